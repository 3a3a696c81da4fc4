/**
 * Speckle removal for palette images: a palette decoder now and then paints a few stray pixels of another colour
 * (at shape edges, or a lone blob in the background). In a world of flat shapes no real region is that small, so
 * regions below a size are relabelled with the colour that surrounds them most.
 */
import { InvalidArgumentError } from '@showo/runtime';
import type { PaletteColour } from './types.js';

/**
 * Returns a copy of an RGB image (`height·width·3` bytes, every pixel one of `palette`'s colours) in which each
 * 4-connected region of one colour with fewer than `minArea` pixels takes the most frequent colour among the
 * pixels bordering it. Pixels that are not palette colours are left alone (and never count as a region).
 */
export function despecklePalette(rgb: Uint8Array, width: number, height: number, palette: readonly PaletteColour[], minArea: number): Uint8Array {
  if (rgb.length !== width * height * 3) throw new InvalidArgumentError(`despecklePalette: expected ${width}×${height}×3 bytes, got ${rgb.length}`);
  const n = width * height;
  const cls = new Int16Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const r = rgb[3 * i]!;
    const g = rgb[3 * i + 1]!;
    const b = rgb[3 * i + 2]!;
    cls[i] = palette.findIndex((c) => c[0] === r && c[1] === g && c[2] === b);
  }
  const out = Uint8Array.from(rgb);
  const seen = new Uint8Array(n);
  const stack: number[] = [];
  const region: number[] = [];
  const votes = new Map<number, number>();
  for (let start = 0; start < n; start++) {
    if (seen[start] || cls[start]! < 0) continue;
    const c = cls[start]!;
    region.length = 0;
    votes.clear();
    stack.push(start);
    seen[start] = 1;
    while (stack.length) {
      const p = stack.pop()!;
      region.push(p);
      const x = p % width;
      const y = (p - x) / width;
      const neighbours = [x > 0 ? p - 1 : -1, x < width - 1 ? p + 1 : -1, y > 0 ? p - width : -1, y < height - 1 ? p + width : -1];
      for (const q of neighbours) {
        if (q < 0) continue;
        if (cls[q] === c) {
          if (!seen[q]) {
            seen[q] = 1;
            stack.push(q);
          }
        } else if (cls[q]! >= 0) votes.set(cls[q]!, (votes.get(cls[q]!) ?? 0) + 1);
      }
    }
    if (region.length >= minArea || votes.size === 0) continue;
    let best = -1;
    let bestVotes = -1;
    for (const [k, v] of votes) if (v > bestVotes) [best, bestVotes] = [k, v];
    const col = palette[best]!;
    for (const p of region) {
      out[3 * p] = col[0];
      out[3 * p + 1] = col[1];
      out[3 * p + 2] = col[2];
    }
  }
  return out;
}

import { InvalidArgumentError } from '@showo/runtime';
import { CANVAS_SIZE, PALETTE, SHAPES, SIZE_PIXELS } from './constants.js';
import { rowHalfWidth } from './geometry.js';
import type { Scene, SceneObject } from './types.js';

function drawObject(out: Uint8Array, obj: SceneObject): void {
  const rgb = PALETTE[obj.color];
  const s = SIZE_PIXELS[obj.size];
  if (!rgb || s === undefined) {
    throw new InvalidArgumentError(`cannot render object ${JSON.stringify(obj)}: unknown colour or size`);
  }
  if (!SHAPES.includes(obj.shape)) throw new InvalidArgumentError(`cannot render object ${JSON.stringify(obj)}: unknown shape`);
  const [r, g, b] = rgb;
  const h = s / 2;
  const { cx, cy } = obj;
  const yStart = Math.max(0, Math.ceil(cy - h));
  const yEnd = Math.min(CANVAS_SIZE - 1, Math.floor(cy + h));
  for (let y = yStart; y <= yEnd; y++) {
    const w = rowHalfWidth(obj.shape, s, y - cy);
    if (!(w >= 0)) continue;
    const xStart = Math.max(0, Math.ceil(cx - w));
    const xEnd = Math.min(CANVAS_SIZE - 1, Math.floor(cx + w));
    let i = (y * CANVAS_SIZE + xStart) * 3;
    for (let x = xStart; x <= xEnd; x++, i += 3) {
      out[i] = r;
      out[i + 1] = g;
      out[i + 2] = b;
    }
  }
}

/**
 * Renders a scene by the SPEC's pixel rules: white background, no anti-aliasing, objects drawn in order (later
 * over earlier). Returns RGB bytes, row-major `size × size × 3`.
 *
 * Scene coordinates are always on the 64×64 canvas; a `size` other than 64 scales the 64-pixel image by nearest
 * neighbour (output pixel x samples canvas pixel ⌊x·64/size⌋), so every output pixel is still background or one
 * object's colour.
 */
export function renderScene(scene: Scene, size: number = CANVAS_SIZE): Uint8Array {
  if (!Number.isInteger(size) || size <= 0) throw new InvalidArgumentError(`render size must be a positive integer, got ${size}`);
  const base = new Uint8Array(CANVAS_SIZE * CANVAS_SIZE * 3).fill(255);
  for (const obj of scene.objects) drawObject(base, obj);
  if (size === CANVAS_SIZE) return base;
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const sy = Math.floor((y * CANVAS_SIZE) / size);
    for (let x = 0; x < size; x++) {
      const si = (sy * CANVAS_SIZE + Math.floor((x * CANVAS_SIZE) / size)) * 3;
      const di = (y * size + x) * 3;
      out[di] = base[si]!;
      out[di + 1] = base[si + 1]!;
      out[di + 2] = base[si + 2]!;
    }
  }
  return out;
}

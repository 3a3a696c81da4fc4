import { InvalidArgumentError } from '@showo/runtime';
import { BACKGROUND, COLORS, COLOR_MAX_DISTANCE, MIN_OBJECT_PIXELS, MIN_SHAPE_IOU, PALETTE, SHAPES } from './constants.js';
import { rowHalfWidth } from './geometry.js';
import type { BBox, Color, Shape } from './types.js';

/** An object found by {@link detectObjects}. */
export interface DetectedObject {
  /** Best-matching ideal shape, or `unknown` when its IoU is below 0.6 (an unknown object matches nothing). */
  readonly shape: Shape | 'unknown';
  readonly color: Color;
  /** Bounding-box centre; a half-integer when the box has an even side. */
  readonly cx: number;
  readonly cy: number;
  /** Number of pixels in the connected component. */
  readonly pixels: number;
  readonly bbox: BBox;
  /** IoU of the component with the best ideal shape. */
  readonly iou: number;
}

const MAX_D2 = COLOR_MAX_DISTANCE * COLOR_MAX_DISTANCE;
const PALETTE_RGB = COLORS.map((c) => PALETTE[c]);

/**
 * The detector's colour rule for one pixel: index into `COLORS` of the nearest palette colour, or −1 for
 * background. Background (white) wins exact ties; among palette colours the earlier one in `COLORS` wins; a
 * pixel farther than 80 from every palette colour and from white is background. Squared distances keep this
 * exact in integers.
 */
export function classifyPixel(r: number, g: number, b: number): number {
  let best = -1;
  let bestD =
    (r - BACKGROUND[0]) * (r - BACKGROUND[0]) + (g - BACKGROUND[1]) * (g - BACKGROUND[1]) + (b - BACKGROUND[2]) * (b - BACKGROUND[2]);
  for (let k = 0; k < PALETTE_RGB.length; k++) {
    const p = PALETTE_RGB[k]!;
    const d = (r - p[0]) * (r - p[0]) + (g - p[1]) * (g - p[1]) + (b - p[2]) * (b - p[2]);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return bestD > MAX_D2 ? -1 : best;
}

function channelsOf(image: ArrayLike<number>, size: number): number {
  const n = size * size;
  if (image.length === n * 3) return 3;
  if (image.length === n * 4) return 4;
  throw new InvalidArgumentError(
    `image has ${image.length} values; expected ${n * 3} (RGB) or ${n * 4} (RGBA) for a ${size}×${size} canvas`,
  );
}

/**
 * Finds the objects of an image by the SPEC's detector: pixels mapped to palette colours or background
 * ({@link classifyPixel}), 4-connected components of one colour with at least 12 pixels, centre = bounding-box
 * centre, shape = the ideal circle/square/triangle (size s = larger box side − 1, centred on the box centre)
 * with the highest IoU, `unknown` below 0.6. Ideal shapes are rasterised on the canvas only (pixels outside the
 * image do not count). Exact IoU ties go to the earlier shape of `SHAPES` (circle, square, triangle).
 *
 * @param image RGB (or RGBA, alpha ignored) bytes, row-major `size × size`.
 * @param size canvas side; positions and thirds are in this canvas's pixels.
 * @returns objects in raster order of their first pixel (top to bottom, left to right).
 */
export function detectObjects(image: ArrayLike<number>, size = 64): DetectedObject[] {
  const ch = channelsOf(image, size);
  const n = size * size;
  const colorIdx = new Int8Array(n);
  // Images are mostly runs of one colour: reuse the previous pixel's class when its RGB repeats.
  let pr = -1, pg = -1, pb = -1, pc = -1;
  for (let p = 0, i = 0; p < n; p++, i += ch) {
    const r = image[i]!, g = image[i + 1]!, b = image[i + 2]!;
    if (r !== pr || g !== pg || b !== pb) {
      pc = classifyPixel(r, g, b);
      pr = r;
      pg = g;
      pb = b;
    }
    colorIdx[p] = pc;
  }

  const label = new Int32Array(n); // 0 = unvisited/background, k+1 = component k
  const stack = new Int32Array(n);
  const found: DetectedObject[] = [];
  let nextLabel = 0;
  for (let start = 0; start < n; start++) {
    const c = colorIdx[start]!;
    if (c < 0 || label[start] !== 0) continue;
    const id = ++nextLabel;
    let top = 0;
    stack[top++] = start;
    label[start] = id;
    let count = 0;
    let x0 = size, y0 = size, x1 = -1, y1 = -1;
    while (top > 0) {
      const p = stack[--top]!;
      count++;
      const x = p % size;
      const y = (p - x) / size;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      if (x > 0 && label[p - 1] === 0 && colorIdx[p - 1] === c) { label[p - 1] = id; stack[top++] = p - 1; }
      if (x < size - 1 && label[p + 1] === 0 && colorIdx[p + 1] === c) { label[p + 1] = id; stack[top++] = p + 1; }
      if (y > 0 && label[p - size] === 0 && colorIdx[p - size] === c) { label[p - size] = id; stack[top++] = p - size; }
      if (y < size - 1 && label[p + size] === 0 && colorIdx[p + size] === c) { label[p + size] = id; stack[top++] = p + size; }
    }
    if (count < MIN_OBJECT_PIXELS) continue;
    const cx = (x0 + x1) / 2;
    const cy = (y0 + y1) / 2;
    const s = Math.max(x1 - x0, y1 - y0); // larger side − 1
    let bestShape: Shape | 'unknown' = 'unknown';
    let bestIou = -1;
    for (const shape of SHAPES) {
      const iou = idealIou(label, id, count, size, shape, s, cx, cy);
      if (iou > bestIou) {
        bestIou = iou;
        bestShape = shape;
      }
    }
    found.push({
      shape: bestIou < MIN_SHAPE_IOU ? 'unknown' : bestShape,
      color: COLORS[c]!,
      cx,
      cy,
      pixels: count,
      bbox: { x0, y0, x1, y1 },
      iou: bestIou,
    });
  }
  return found;
}

function idealIou(
  label: Int32Array,
  id: number,
  count: number,
  size: number,
  shape: Shape,
  s: number,
  cx: number,
  cy: number,
): number {
  // Every ideal shape lies within [c − s/2, c + s/2] on both axes, which contains the component's box.
  const h = s / 2;
  const xs = Math.max(0, Math.ceil(cx - h));
  const xe = Math.min(size - 1, Math.floor(cx + h));
  const ys = Math.max(0, Math.ceil(cy - h));
  const ye = Math.min(size - 1, Math.floor(cy + h));
  let ideal = 0;
  let inter = 0;
  for (let y = ys; y <= ye; y++) {
    const w = rowHalfWidth(shape, s, y - cy);
    if (w < 0) continue;
    const x0 = Math.max(xs, Math.ceil(cx - w));
    const x1 = Math.min(xe, Math.floor(cx + w));
    if (x1 < x0) continue;
    ideal += x1 - x0 + 1;
    const row = y * size;
    for (let x = x0; x <= x1; x++) if (label[row + x] === id) inter++;
  }
  return inter / (ideal + count - inter);
}

import { CANVAS_SIZE, SIZE_PIXELS, WHERE_PHRASES, MIN_GAP } from './constants.js';
import type { BBox, HorizontalThird, RelationKind, SceneObject, Shape, Thirds, VerticalThird, Where } from './types.js';

/**
 * The SPEC's pixel rule: is offset (`dx`, `dy`) from the centre inside a `shape` of size `s`? Offsets and `s/2`
 * may be half-integers (the detector centres ideal shapes on bounding-box centres); both are exact in binary
 * floating point, so the comparisons are exact.
 */
export function insideShape(shape: Shape, s: number, dx: number, dy: number): boolean {
  const h = s / 2;
  switch (shape) {
    case 'circle':
      return dx * dx + dy * dy <= h * h;
    case 'square':
      return Math.abs(dx) <= h && Math.abs(dy) <= h;
    case 'triangle':
      return dy >= -h && dy <= h && Math.abs(dx) <= (dy + h) / 2;
  }
}

/**
 * The row form of {@link insideShape}: on the row at offset `dy`, a pixel is inside exactly when |dx| ≤ the
 * returned half-width (negative: the row is empty). Lets the renderer and the detector fill spans instead of
 * testing pixels. For the circle, √(h² − dy²) is exact whenever a lattice offset lies on the rim (a perfect square
 * of a multiple of ½), so span ends are exact.
 */
export function rowHalfWidth(shape: Shape, s: number, dy: number): number {
  const h = s / 2;
  if (dy < -h || dy > h) return -1;
  switch (shape) {
    case 'circle':
      return Math.sqrt(h * h - dy * dy);
    case 'square':
      return h;
    case 'triangle':
      return (dy + h) / 2;
  }
}

/** The inclusive bounding box of an object drawn at integer centre: every shape spans [c − s/2, c + s/2]. */
export function objectBBox(obj: Pick<SceneObject, 'size' | 'cx' | 'cy'>): BBox {
  const h = SIZE_PIXELS[obj.size] / 2;
  return { x0: obj.cx - h, y0: obj.cy - h, x1: obj.cx + h, y1: obj.cy + h };
}

/** True when at least `gap` background pixels separate the two boxes horizontally or vertically. */
export function boxesSeparated(a: BBox, b: BBox, gap: number = MIN_GAP): boolean {
  return b.x0 - a.x1 - 1 >= gap || a.x0 - b.x1 - 1 >= gap || b.y0 - a.y1 - 1 >= gap || a.y0 - b.y1 - 1 >= gap;
}

/**
 * Horizontal third of a centre x. Boundaries are exact thirds of the canvas: `3x < size` is left,
 * `3x < 2·size` centre, else right. On 64 px: x ≤ 21 left, 22…42 centre, ≥ 43 right; a half-integer centre
 * (detector) of 21.5 is centre.
 */
export function horizontalThird(x: number, size: number = CANVAS_SIZE): HorizontalThird {
  return 3 * x < size ? 'left' : 3 * x < 2 * size ? 'center' : 'right';
}

/** Vertical third of a centre y, with the same boundaries as {@link horizontalThird}: y ≤ 21 top, ≥ 43 bottom. */
export function verticalThird(y: number, size: number = CANVAS_SIZE): VerticalThird {
  return 3 * y < size ? 'top' : 3 * y < 2 * size ? 'middle' : 'bottom';
}

/** Both thirds of an object's centre. */
export function whereOf(obj: { readonly cx: number; readonly cy: number }, size: number = CANVAS_SIZE): Thirds {
  return { horizontal: horizontalThird(obj.cx, size), vertical: verticalThird(obj.cy, size) };
}

/**
 * The evaluation meaning of a position word (t2i `where`, how-to `where`): `left`/`right` = that horizontal third
 * (any row), `top`/`bottom` = that vertical third (any column), `center` = the centre third both ways.
 */
export function satisfiesWhere(obj: { readonly cx: number; readonly cy: number }, where: Where, size: number = CANVAS_SIZE): boolean {
  switch (where) {
    case 'left':
    case 'right':
      return horizontalThird(obj.cx, size) === where;
    case 'top':
    case 'bottom':
      return verticalThird(obj.cy, size) === where;
    case 'center':
      return horizontalThird(obj.cx, size) === 'center' && verticalThird(obj.cy, size) === 'middle';
  }
}

/**
 * The unambiguous position word of an object, as the answer to `where is the … ?` uses it: left/right third in
 * the middle row, top/bottom row in the centre column, or the centre cell. Corner cells have none (`undefined`):
 * such positions are never asked.
 */
export function askableWhere(obj: { readonly cx: number; readonly cy: number }, size: number = CANVAS_SIZE): Where | undefined {
  const h = horizontalThird(obj.cx, size);
  const v = verticalThird(obj.cy, size);
  if (v === 'middle') return h === 'center' ? 'center' : h;
  if (h === 'center') return v;
  return undefined;
}

/** Caption phrase of a position word: `left` → `on the left`, `top` → `at the top`, `center` → `in the center`. */
export function wherePhrase(where: Where): string {
  return WHERE_PHRASES[where];
}

const PHRASE_TO_WHERE = new Map<string, Where>(Object.entries(WHERE_PHRASES).map(([w, p]) => [p, w as Where]));

/** Inverse of {@link wherePhrase}; `undefined` for any other text. */
export function parseWherePhrase(phrase: string): Where | undefined {
  return PHRASE_TO_WHERE.get(phrase);
}

/** Whether `a rel b` holds between two centres (strict comparisons, as the SPEC defines). */
export function relationHolds(
  a: { readonly cx: number; readonly cy: number },
  rel: RelationKind,
  b: { readonly cx: number; readonly cy: number },
): boolean {
  switch (rel) {
    case 'left_of':
      return a.cx < b.cx;
    case 'right_of':
      return a.cx > b.cx;
    case 'above':
      return a.cy < b.cy;
    case 'below':
      return a.cy > b.cy;
  }
}

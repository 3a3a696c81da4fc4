import type { Color, Composition, Rgb, Shape, Size, Where, RelationKind } from './types.js';

/** Side of the Shapes World canvas in pixels. */
export const CANVAS_SIZE = 64;

/** Background colour (white). */
export const BACKGROUND: Rgb = [255, 255, 255];

/** Palette colour names in canonical order (this order also breaks exact distance ties in the detector). */
export const COLORS: readonly Color[] = ['red', 'green', 'blue', 'yellow', 'purple', 'orange'];

/** Shape names in canonical order (this order also breaks exact IoU ties in the detector). */
export const SHAPES: readonly Shape[] = ['circle', 'square', 'triangle'];

/** Size names. */
export const SIZES: readonly Size[] = ['small', 'large'];

/** Palette: colour name → RGB. */
export const PALETTE: Readonly<Record<Color, Rgb>> = {
  red: [220, 40, 40],
  green: [40, 170, 60],
  blue: [40, 80, 220],
  yellow: [240, 200, 40],
  purple: [140, 60, 180],
  orange: [245, 130, 30],
};

/** Size name → `s` in pixels. */
export const SIZE_PIXELS: Readonly<Record<Size, number>> = { small: 12, large: 20 };

/** Compositions that no training sample may contain; they exist only for evaluation. */
export const HELD_OUT: readonly Composition[] = [
  { shape: 'triangle', color: 'purple' },
  { shape: 'circle', color: 'orange' },
  { shape: 'square', color: 'green' },
];

/** Background pixels required between the bounding boxes of two generated objects. */
export const MIN_GAP = 2;

/**
 * Background pixels kept between a generated object's bounding box and the canvas edge. The public evaluation
 * scenes keep every box within [1, 62]; generated scenes follow them.
 */
export const EDGE_MARGIN = 1;

/** Detector: a pixel farther than this (Euclidean RGB) from white and every palette colour is background. */
export const COLOR_MAX_DISTANCE = 80;

/** Detector: connected components smaller than this are noise, not objects. */
export const MIN_OBJECT_PIXELS = 12;

/** Detector: below this best IoU an object's shape is `unknown`. */
export const MIN_SHAPE_IOU = 0.6;

/** Position word → the caption/answer phrase. */
export const WHERE_PHRASES: Readonly<Record<Where, string>> = {
  left: 'on the left',
  right: 'on the right',
  top: 'at the top',
  bottom: 'at the bottom',
  center: 'in the center',
};

/** Position words in canonical order. */
export const WHERES: readonly Where[] = ['left', 'right', 'top', 'bottom', 'center'];

/** Relation → its phrase in relation captions. */
export const RELATION_PHRASES: Readonly<Record<RelationKind, string>> = {
  left_of: 'to the left of',
  right_of: 'to the right of',
  above: 'above',
  below: 'below',
};

/** Relations in canonical order. */
export const RELATIONS: readonly RelationKind[] = ['left_of', 'right_of', 'above', 'below'];

/** Count words for 1, 2, 3 (index = count − 1): the language only counts one to three. */
export const COUNT_WORDS: readonly string[] = ['one', 'two', 'three'];

/** Answers of yes/no questions. */
export const YES_NO_ANSWERS: readonly string[] = ['yes', 'no'];

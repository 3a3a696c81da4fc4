/** One of the three shapes of Shapes World. */
export type Shape = 'circle' | 'square' | 'triangle';

/** One of the six palette colours. */
export type Color = 'red' | 'green' | 'blue' | 'yellow' | 'purple' | 'orange';

/** Object size: `small` is 12 px, `large` 20 px (the `s` of the pixel rules). */
export type Size = 'small' | 'large';

/** An 8-bit RGB triple. */
export type Rgb = readonly [number, number, number];

/** One object of a scene, centred at integer pixel (`cx`, `cy`) of the 64×64 canvas. */
export interface SceneObject {
  readonly shape: Shape;
  readonly color: Color;
  readonly size: Size;
  readonly cx: number;
  readonly cy: number;
}

/** A scene: objects in drawing order (later objects are drawn over earlier ones). */
export interface Scene {
  readonly objects: readonly SceneObject[];
}

/**
 * A position word as the evaluation files write it (`expect.objects[].where`, how-to scene objects):
 * `left`/`right` name a horizontal third, `top`/`bottom` a vertical third, `center` the centre third both ways.
 */
export type Where = 'left' | 'right' | 'top' | 'bottom' | 'center';

/** Horizontal third of the canvas an object's centre lies in. */
export type HorizontalThird = 'left' | 'center' | 'right';

/** Vertical third of the canvas an object's centre lies in. */
export type VerticalThird = 'top' | 'middle' | 'bottom';

/** Both thirds of a centre. */
export interface Thirds {
  readonly horizontal: HorizontalThird;
  readonly vertical: VerticalThird;
}

/** Spatial relation between two objects' centres (`left_of`: a.cx < b.cx; `above`: a.cy < b.cy). */
export type RelationKind = 'left_of' | 'right_of' | 'above' | 'below';

/** Inclusive pixel bounding box. */
export interface BBox {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/**
 * The part of an object that the language talks about: what a scene object and a detected object have in
 * common, so questions can be answered from either.
 */
export interface ObjectView {
  readonly shape: Shape | 'unknown';
  readonly color: Color;
  readonly cx: number;
  readonly cy: number;
}

/** A `(shape, colour)` composition. */
export interface Composition {
  readonly shape: Shape;
  readonly color: Color;
}

/** One expected object of a generation expectation (`expect.objects[]` of `t2i-*.jsonl`). */
export interface ExpectObject {
  readonly shape: Shape;
  readonly color: Color;
  /** How many such objects, default 1. */
  readonly count?: number;
  readonly where?: Where;
}

/** What a generated image must show (`expect` of `t2i-*.jsonl`). */
export interface T2iExpect {
  readonly objects: readonly ExpectObject[];
  /** `a` and `b` index `objects`. */
  readonly relation?: { readonly a: number; readonly rel: RelationKind; readonly b: number };
}

/** An object of a how-to keyframe: a scene object plus the position word it must satisfy. */
export interface HowtoObject extends SceneObject {
  readonly where: Where;
}

/** A how-to keyframe scene. */
export interface HowtoScene {
  readonly objects: readonly HowtoObject[];
}

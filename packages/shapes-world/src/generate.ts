import { InvalidArgumentError } from '@showo/runtime';
import { CANVAS_SIZE, COLORS, EDGE_MARGIN, HELD_OUT, RELATIONS, SHAPES, SIZES, SIZE_PIXELS, WHERES } from './constants.js';
import { GenerationError } from './errors.js';
import { boxesSeparated, objectBBox, relationHolds } from './geometry.js';
import {
  andCaption,
  answerQuestion,
  countingCaption,
  describeScene,
  howtoQuestion,
  lmQaLine,
  lmSequenceLine,
  pluralShape,
  questionText,
  relationCaption,
  singleCaption,
  splitWords,
  stepText,
  type HowtoAction,
  type Question,
  type QuestionKind,
} from './language.js';
import { Rng, toRng, type RandomSource } from './rng.js';
import type {
  Color,
  Composition,
  HowtoObject,
  HowtoScene,
  RelationKind,
  Scene,
  SceneObject,
  Shape,
  Size,
  T2iExpect,
  Where,
} from './types.js';

// ---------------------------------------------------------------------------------------------------------------
// Sample types

/** Kinds of training sample. */
export type SampleKind = 'class' | 't2i' | 'mmu' | 'lm' | 'howto';

/** Kinds of caption a `t2i` sample carries. */
export type CaptionKind = 'single' | 'counting' | 'two' | 'relation';

/** Kinds of text-only line. */
export type LmKind = 'caption' | 'qa' | 'howto';

/** Step plans of how-to sequences (the ops in order). */
export type HowtoPlan = 'place' | 'place-paint' | 'place-add' | 'place-add-paint' | 'place-add-remove' | 'place-paint-add';

/** Class-conditional sample (stage-1 pre-training): one object, labelled with its shape. */
export interface ClassSample {
  readonly kind: 'class';
  readonly scene: Scene;
  readonly label: Shape;
}

/** Text-to-image sample: a caption and a scene that satisfies it (nothing else in the scene). */
export interface T2iSample {
  readonly kind: 't2i';
  readonly scene: Scene;
  readonly caption: string;
  readonly captionKind: CaptionKind;
  /** What the caption promises, in the evaluation format (the scene meets it). */
  readonly expect: T2iExpect;
}

/** Understanding sample: a scene, a question about it and the correct answer. */
export interface MmuSample {
  readonly kind: 'mmu';
  readonly scene: Scene;
  readonly question: string;
  readonly answer: string;
  readonly questionKind: QuestionKind;
}

/** Text-only line for the language-modelling objective. */
export interface LmSample {
  readonly kind: 'lm';
  readonly text: string;
  readonly lmKind: LmKind;
}

/** One how-to step: its text, the keyframe scene after it, and the structured action. */
export interface HowtoStep {
  readonly text: string;
  readonly scene: HowtoScene;
  readonly action: HowtoAction;
}

/** How-to sequence: `how do i build <caption>?` and 1–3 steps with keyframes. */
export interface HowtoSample {
  readonly kind: 'howto';
  readonly question: string;
  /** Canonical caption of the final scene (the `<caption>` of the question). */
  readonly caption: string;
  readonly plan: HowtoPlan;
  readonly steps: readonly HowtoStep[];
}

/** Any training sample. */
export type Sample = ClassSample | T2iSample | MmuSample | LmSample | HowtoSample;

/** Sample type by kind. */
export interface SampleByKind {
  class: ClassSample;
  t2i: T2iSample;
  mmu: MmuSample;
  lm: LmSample;
  howto: HowtoSample;
}

/** Options shared by every sampler. Weights are relative and need not sum to 1; a missing key counts as 0. */
export interface GeneratorOptions {
  /**
   * Allow the held-out compositions (purple triangle, orange circle, green square). Default `false`: training
   * samples never contain them in any image, caption, question, answer or step. Set `true` only for evaluation.
   */
  readonly allowHeldOut?: boolean;
  readonly captionWeights?: Readonly<Partial<Record<CaptionKind, number>>>;
  readonly questionWeights?: Readonly<Partial<Record<QuestionKind, number>>>;
  readonly lmWeights?: Readonly<Partial<Record<LmKind, number>>>;
  readonly howtoWeights?: Readonly<Partial<Record<HowtoPlan, number>>>;
}

/** Default mix of caption kinds in `t2i` samples. */
export const DEFAULT_CAPTION_WEIGHTS: Readonly<Record<CaptionKind, number>> = { single: 0.35, counting: 0.15, two: 0.25, relation: 0.25 };
/** Default mix of question kinds in `mmu` samples. */
export const DEFAULT_QUESTION_WEIGHTS: Readonly<Record<QuestionKind, number>> = {
  color: 0.17,
  shape: 0.17,
  count: 0.16,
  exists: 0.16,
  where: 0.14,
  describe: 0.2,
};
/** Default mix of `lm` lines. */
export const DEFAULT_LM_WEIGHTS: Readonly<Record<LmKind, number>> = { caption: 0.4, qa: 0.35, howto: 0.25 };
/**
 * Default mix of how-to plans. The public how-to file uses place, place-add and place-add-paint; the others keep
 * every op of the SPEC (including remove) in the training language at a low rate.
 */
export const DEFAULT_HOWTO_WEIGHTS: Readonly<Record<HowtoPlan, number>> = {
  place: 0.25,
  'place-add': 0.3,
  'place-add-paint': 0.3,
  'place-paint': 0.05,
  'place-add-remove': 0.05,
  'place-paint-add': 0.05,
};

/** Probability that a single caption names the size, and that it names a position. */
const SINGLE_SIZE_WORD_P = 0.5;
const SINGLE_WHERE_P = 0.4;
/** Relation captions keep the related centres at least this far apart on the relation's axis, so they read clearly. */
const RELATION_MARGIN = 6;
const HOWTO_SIZE: Size = 'large';

// ---------------------------------------------------------------------------------------------------------------
// Compositions and held-out

/** Whether `(shape, colour)` is a held-out composition. */
export function isHeldOut(shape: Shape, color: Color): boolean {
  return HELD_OUT.some((h) => h.shape === shape && h.color === color);
}

const ALL_COMPOSITIONS: readonly Composition[] = SHAPES.flatMap((shape) => COLORS.map((color) => ({ shape, color })));
const TRAIN_COMPOSITIONS = ALL_COMPOSITIONS.filter((c) => !isHeldOut(c.shape, c.color));

/** The compositions a generator may use: all 18, or the 15 training ones. */
export function compositions(allowHeldOut = false): readonly Composition[] {
  return allowHeldOut ? ALL_COMPOSITIONS : TRAIN_COMPOSITIONS;
}

const SHAPE_SET = new Set<string>(SHAPES);
const PLURAL_TO_SHAPE = new Map<string, Shape>(SHAPES.map((s) => [pluralShape(s), s]));
const COLOR_SET = new Set<string>(COLORS);

/**
 * Whether a text of the language names a held-out composition: `<color> <shape>` or `<color> <shape>s`
 * anywhere, or `paint the <shape> <color>`.
 */
export function textMentionsHeldOut(text: string): boolean {
  const w = splitWords(text.toLowerCase());
  for (let i = 0; i + 1 < w.length; i++) {
    const a = w[i]!;
    const b = w[i + 1]!;
    if (COLOR_SET.has(a)) {
      const shape = SHAPE_SET.has(b) ? (b as Shape) : PLURAL_TO_SHAPE.get(b);
      if (shape && isHeldOut(shape, a as Color)) return true;
    }
    if (a === 'paint' && b === 'the' && i + 3 < w.length && SHAPE_SET.has(w[i + 2]!) && COLOR_SET.has(w[i + 3]!)) {
      if (isHeldOut(w[i + 2] as Shape, w[i + 3] as Color)) return true;
    }
  }
  return false;
}

/** Every scene of a sample (none for `lm`). */
export function scenesOf(sample: Sample): Scene[] {
  switch (sample.kind) {
    case 'class':
    case 't2i':
    case 'mmu':
      return [sample.scene];
    case 'howto':
      return sample.steps.map((s) => s.scene);
    case 'lm':
      return [];
  }
}

/** Every text of a sample (caption, question, answer, step texts, label). */
export function textsOf(sample: Sample): string[] {
  switch (sample.kind) {
    case 'class':
      return [sample.label];
    case 't2i':
      return [sample.caption];
    case 'mmu':
      return [sample.question, sample.answer];
    case 'lm':
      return [sample.text];
    case 'howto':
      return [sample.question, ...sample.steps.map((s) => s.text)];
  }
}

/** Whether any image or text of a sample contains a held-out composition. */
export function sampleContainsHeldOut(sample: Sample): boolean {
  for (const scene of scenesOf(sample)) if (scene.objects.some((o) => isHeldOut(o.shape, o.color))) return true;
  return textsOf(sample).some(textMentionsHeldOut);
}

// ---------------------------------------------------------------------------------------------------------------
// Placement

/** Allowed range of object centres, inclusive on both axes. */
interface Region {
  readonly x0: number;
  readonly x1: number;
  readonly y0: number;
  readonly y1: number;
}

const LAST = CANVAS_SIZE - 1;
// Highest coordinate in the first third (3x < size) and in the middle third (3x < 2·size).
const FIRST_MAX = Math.ceil(CANVAS_SIZE / 3) - 1;
const MIDDLE_MAX = Math.ceil((2 * CANVAS_SIZE) / 3) - 1;
const ANY: Region = { x0: 0, x1: LAST, y0: 0, y1: LAST };

function thirdRange(t: 0 | 1 | 2): [number, number] {
  return t === 0 ? [0, FIRST_MAX] : t === 1 ? [FIRST_MAX + 1, MIDDLE_MAX] : [MIDDLE_MAX + 1, LAST];
}

function region(h: 0 | 1 | 2 | undefined, v: 0 | 1 | 2 | undefined): Region {
  const [x0, x1] = h === undefined ? [0, LAST] : thirdRange(h);
  const [y0, y1] = v === undefined ? [0, LAST] : thirdRange(v);
  return { x0, x1, y0, y1 };
}

/** Centres that satisfy a position word with its evaluation meaning (left = left third, any row). */
function looseRegion(where: Where | undefined): Region {
  switch (where) {
    case undefined:
      return ANY;
    case 'left':
      return region(0, undefined);
    case 'right':
      return region(2, undefined);
    case 'top':
      return region(undefined, 0);
    case 'bottom':
      return region(undefined, 2);
    case 'center':
      return region(1, 1);
  }
}

/** Centres whose unambiguous position word ({@link askableWhere}) is `where`. */
function strictRegion(where: Where): Region {
  switch (where) {
    case 'left':
      return region(0, 1);
    case 'right':
      return region(2, 1);
    case 'top':
      return region(1, 0);
    case 'bottom':
      return region(1, 2);
    case 'center':
      return region(1, 1);
  }
}

interface ObjectSpec {
  readonly shape: Shape;
  readonly color: Color;
  readonly size: Size;
  readonly region?: Region;
}

const SCENE_ATTEMPTS = 200;
const POSITION_TRIES = 40;

/**
 * Places objects at random integer centres inside their regions, boxes inside the canvas with the edge margin and
 * at least MIN_GAP background pixels between boxes; `accept` can veto a finished placement (relations).
 */
function placeObjects(specs: readonly ObjectSpec[], rng: Rng, accept?: (objs: SceneObject[]) => boolean): SceneObject[] {
  for (let attempt = 0; attempt < SCENE_ATTEMPTS; attempt++) {
    const placed: SceneObject[] = [];
    const boxes: ReturnType<typeof objectBBox>[] = [];
    let ok = true;
    for (const spec of specs) {
      const h = SIZE_PIXELS[spec.size] / 2;
      const r = spec.region ?? ANY;
      const x0 = Math.max(r.x0, EDGE_MARGIN + h);
      const x1 = Math.min(r.x1, LAST - EDGE_MARGIN - h);
      const y0 = Math.max(r.y0, EDGE_MARGIN + h);
      const y1 = Math.min(r.y1, LAST - EDGE_MARGIN - h);
      if (x0 > x1 || y0 > y1) throw new GenerationError(`no room for a ${spec.size} object in the requested region`);
      let done = false;
      for (let t = 0; t < POSITION_TRIES && !done; t++) {
        const obj: SceneObject = { shape: spec.shape, color: spec.color, size: spec.size, cx: rng.range(x0, x1), cy: rng.range(y0, y1) };
        const box = objectBBox(obj);
        if (boxes.every((b) => boxesSeparated(b, box))) {
          placed.push(obj);
          boxes.push(box);
          done = true;
        }
      }
      if (!done) {
        ok = false;
        break;
      }
    }
    if (ok && (!accept || accept(placed))) return placed;
  }
  throw new GenerationError(`could not place ${specs.length} objects after ${SCENE_ATTEMPTS} attempts`);
}

function pickDistinct(rng: Rng, pool: readonly Composition[], k: number): Composition[] {
  if (k > pool.length) throw new GenerationError(`need ${k} distinct compositions, only ${pool.length} allowed`);
  const copy = pool.slice();
  // Partial Fisher–Yates: only the first k positions are needed.
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(copy.length - i);
    const t = copy[i]!;
    copy[i] = copy[j]!;
    copy[j] = t;
  }
  return copy.slice(0, k);
}

function randomSize(rng: Rng): Size {
  return rng.pick(SIZES);
}

function specsOf(rng: Rng, comps: readonly Composition[], region?: Region): ObjectSpec[] {
  return comps.map((c) => ({ shape: c.shape, color: c.color, size: randomSize(rng), region }));
}

/** Options of {@link randomScene}. */
export interface RandomSceneOptions {
  readonly minObjects?: number;
  readonly maxObjects?: number;
  readonly allowHeldOut?: boolean;
}

/**
 * A random scene of `minObjects`…`maxObjects` (default 1…3) objects with distinct compositions, random sizes and
 * positions, no overlaps.
 */
export function randomScene(random: RandomSource, options: RandomSceneOptions = {}): Scene {
  const rng = toRng(random);
  const lo = options.minObjects ?? 1;
  const hi = options.maxObjects ?? 3;
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 0 && lo <= hi)) {
    throw new InvalidArgumentError(`invalid object count range ${lo}…${hi}`);
  }
  const comps = pickDistinct(rng, compositions(options.allowHeldOut), rng.range(lo, hi));
  return { objects: placeObjects(specsOf(rng, comps), rng) };
}

/**
 * A scene that meets a generation expectation exactly (each expected object with its count and `where`, the
 * relation if any, nothing else): the ideal image of a `t2i` item. Sizes are random.
 */
export function sceneForExpect(expect: T2iExpect, random: RandomSource): Scene {
  const rng = toRng(random);
  const specs: ObjectSpec[] = [];
  const owner: number[] = [];
  expect.objects.forEach((o, i) => {
    for (let k = 0; k < (o.count ?? 1); k++) {
      specs.push({ shape: o.shape, color: o.color, size: randomSize(rng), region: looseRegion(o.where) });
      owner.push(i);
    }
  });
  const rel = expect.relation;
  const accept = rel
    ? (objs: SceneObject[]) =>
        objs.every((a, i) => owner[i] !== rel.a || objs.every((b, j) => owner[j] !== rel.b || relationHolds(a, rel.rel, b)))
    : undefined;
  return { objects: placeObjects(specs, rng, accept) };
}

// ---------------------------------------------------------------------------------------------------------------
// Samplers

/** A class-conditional sample: one random object (random size and position) labelled with its shape. */
export function sampleClass(random: RandomSource, options: GeneratorOptions = {}): ClassSample {
  const rng = toRng(random);
  const c = rng.pick(compositions(options.allowHeldOut));
  const scene = { objects: placeObjects(specsOf(rng, [c]), rng) };
  return { kind: 'class', scene, label: c.shape };
}

/**
 * A text-to-image sample: a caption of the language and a scene that satisfies it and contains nothing else.
 * A position word places the object anywhere its evaluation meaning allows (`on the left`: left third, any row),
 * the meaning the `t2i` and how-to evaluations check; relation captions keep the two centres at least 6 px apart
 * on the relation's axis.
 */
export function sampleT2i(random: RandomSource, options: GeneratorOptions = {}): T2iSample {
  const rng = toRng(random);
  const pool = compositions(options.allowHeldOut);
  const captionKind = rng.weighted(options.captionWeights ?? DEFAULT_CAPTION_WEIGHTS);
  switch (captionKind) {
    case 'single': {
      const c = rng.pick(pool);
      const size = randomSize(rng);
      const sizeWord = rng.chance(SINGLE_SIZE_WORD_P) ? size : undefined;
      const where = rng.chance(SINGLE_WHERE_P) ? rng.pick(WHERES) : undefined;
      const objects = placeObjects([{ ...c, size, region: looseRegion(where) }], rng);
      const caption = singleCaption({ color: c.color, shape: c.shape, size: sizeWord, where });
      const expect: T2iExpect = { objects: [where ? { ...c, where } : { ...c }] };
      return { kind: 't2i', scene: { objects }, caption, captionKind, expect };
    }
    case 'counting': {
      const c = rng.pick(pool);
      const n = rng.chance(0.5) ? 2 : 3;
      const objects = placeObjects(specsOf(rng, Array.from({ length: n }, () => c)), rng);
      return {
        kind: 't2i',
        scene: { objects },
        caption: countingCaption(n, c.color, c.shape),
        captionKind,
        expect: { objects: [{ ...c, count: n }] },
      };
    }
    case 'two': {
      const [a, b] = pickDistinct(rng, pool, 2) as [Composition, Composition];
      const objects = placeObjects(specsOf(rng, [a, b]), rng);
      return { kind: 't2i', scene: { objects }, caption: andCaption([a, b]), captionKind, expect: { objects: [{ ...a }, { ...b }] } };
    }
    case 'relation': {
      const [a, b] = pickDistinct(rng, pool, 2) as [Composition, Composition];
      const rel: RelationKind = rng.pick(RELATIONS);
      const objects = placeObjects(specsOf(rng, [a, b]), rng, ([p, q]) => clearlyRelated(p!, rel, q!));
      return {
        kind: 't2i',
        scene: { objects },
        caption: relationCaption(a, rel, b),
        captionKind,
        expect: { objects: [{ ...a }, { ...b }], relation: { a: 0, rel, b: 1 } },
      };
    }
  }
}

function clearlyRelated(a: SceneObject, rel: RelationKind, b: SceneObject): boolean {
  switch (rel) {
    case 'left_of':
      return b.cx - a.cx >= RELATION_MARGIN;
    case 'right_of':
      return a.cx - b.cx >= RELATION_MARGIN;
    case 'above':
      return b.cy - a.cy >= RELATION_MARGIN;
    case 'below':
      return a.cy - b.cy >= RELATION_MARGIN;
  }
}

/** Builds a scene for which `question` of `kind` has a definite answer, with a balanced spread of answers. */
function mmuSceneAndQuestion(kind: QuestionKind, rng: Rng, pool: readonly Composition[]): { objects: SceneObject[]; question: Question } {
  const extra = () => rng.int(3); // 0…2 more objects
  switch (kind) {
    case 'color': {
      const t = rng.pick(pool);
      const others = pickDistinct(rng, pool.filter((c) => c.shape !== t.shape), extra());
      return { objects: placeObjects(rng.shuffle(specsOf(rng, [t, ...others])), rng), question: { kind, shape: t.shape } };
    }
    case 'shape': {
      const t = rng.pick(pool);
      const others = pickDistinct(rng, pool.filter((c) => c.color !== t.color), extra());
      return { objects: placeObjects(rng.shuffle(specsOf(rng, [t, ...others])), rng), question: { kind, color: t.color } };
    }
    case 'count': {
      const shape = rng.pick(SHAPES);
      const u = rng.next();
      const count = u < 0.4 ? 1 : u < 0.75 ? 2 : 3;
      const colors = pool.filter((c) => c.shape === shape);
      const same = Array.from({ length: count }, () => rng.pick(colors));
      const others = pickDistinct(rng, pool.filter((c) => c.shape !== shape), rng.int(3 - count + 1));
      return { objects: placeObjects(rng.shuffle(specsOf(rng, [...same, ...others])), rng), question: { kind, shape } };
    }
    case 'exists': {
      const t = rng.pick(pool);
      const rest = pool.filter((c) => c.shape !== t.shape || c.color !== t.color);
      let comps: Composition[];
      if (rng.chance(0.5)) {
        comps = [t, ...pickDistinct(rng, rest, extra())];
      } else {
        // A "no" is only informative if a near miss (same colour or same shape) is often present.
        const near = rest.filter((c) => c.shape === t.shape || c.color === t.color);
        const first = rng.chance(0.6) && near.length > 0 ? rng.pick(near) : rng.pick(rest);
        comps = [first, ...pickDistinct(rng, rest.filter((c) => c !== first), extra())];
      }
      return { objects: placeObjects(rng.shuffle(specsOf(rng, comps)), rng), question: { kind, color: t.color, shape: t.shape } };
    }
    case 'where': {
      const t = rng.pick(pool);
      const where = rng.pick(WHERES);
      const others = pickDistinct(rng, pool.filter((c) => c !== t), extra());
      const specs: ObjectSpec[] = [{ ...t, size: randomSize(rng), region: strictRegion(where) }, ...specsOf(rng, others)];
      return { objects: placeObjects(specs, rng), question: { kind, color: t.color, shape: t.shape } };
    }
    case 'describe': {
      const comps = pickDistinct(rng, pool, 1 + rng.int(3));
      return { objects: placeObjects(specsOf(rng, comps), rng), question: { kind } };
    }
  }
}

/** An understanding sample: a scene, a question of the language with a definite answer, and that answer. */
export function sampleMmu(random: RandomSource, options: GeneratorOptions = {}): MmuSample {
  const rng = toRng(random);
  const questionKind = rng.weighted(options.questionWeights ?? DEFAULT_QUESTION_WEIGHTS);
  return mmuOfKind(questionKind, rng, compositions(options.allowHeldOut));
}

function mmuOfKind(questionKind: QuestionKind, rng: Rng, pool: readonly Composition[]): MmuSample {
  const { objects, question } = mmuSceneAndQuestion(questionKind, rng, pool);
  const scene: Scene = { objects };
  const answer = answerQuestion(scene, question);
  // Scenes are built to make the answer definite; reaching this is a generator bug, not bad luck.
  if (answer === undefined) throw new GenerationError(`no definite answer for ${questionText(question)}`);
  return { kind: 'mmu', scene, question: questionText(question), answer, questionKind };
}

/** A text-only line: a caption, a described scene with a question and answer, or a how-to sequence as text. */
export function sampleLm(random: RandomSource, options: GeneratorOptions = {}): LmSample {
  const rng = toRng(random);
  const lmKind = rng.weighted(options.lmWeights ?? DEFAULT_LM_WEIGHTS);
  switch (lmKind) {
    case 'caption':
      return { kind: 'lm', lmKind, text: sampleT2i(rng, options).caption };
    case 'qa': {
      // Only questions the described scene answers in words; `where` needs the image, `describe` would be a copy.
      const qk = rng.pick(['color', 'shape', 'count', 'exists'] as const);
      const m = mmuOfKind(qk, rng, compositions(options.allowHeldOut));
      return { kind: 'lm', lmKind, text: lmQaLine(describeScene(m.scene)!, m.question, m.answer) };
    }
    case 'howto': {
      const h = sampleHowto(rng, options);
      return { kind: 'lm', lmKind, text: lmSequenceLine(h.question, h.steps.map((s) => s.text)) };
    }
  }
}

/**
 * A how-to sequence: the final scene (one or two large objects of different shapes, on opposite sides when two)
 * is built by 1–3 steps following a plan: `place` first, then `add`, `paint` (an earlier colour repainted to the
 * final one) or `remove` (of a distractor). Each step's keyframe is the whole scene after it; untouched objects
 * keep everything. Every object's `where` is the side it was placed on (`left`/`right`, as in the public file).
 */
export function sampleHowto(random: RandomSource, options: GeneratorOptions = {}): HowtoSample {
  const rng = toRng(random);
  const pool = compositions(options.allowHeldOut);
  const plan = rng.weighted(options.howtoWeights ?? DEFAULT_HOWTO_WEIGHTS);
  const sides: [Where, Where] = rng.chance(0.5) ? ['left', 'right'] : ['right', 'left'];
  const a = rng.pick(pool);
  const needsB = plan !== 'place' && plan !== 'place-paint';
  const b = needsB ? rng.pick(pool.filter((c) => c.shape !== a.shape)) : undefined;
  const specs: ObjectSpec[] = [{ ...a, size: HOWTO_SIZE, region: looseRegion(sides[0]) }];
  if (b) specs.push({ ...b, size: HOWTO_SIZE, region: looseRegion(sides[1]) });
  const [pa, pb] = placeObjects(specs, rng);
  const objA: HowtoObject = { ...pa!, where: sides[0] };
  const objB: HowtoObject | undefined = pb && { ...pb, where: sides[1] };

  const earlierColor = (o: HowtoObject): Color =>
    rng.pick(pool.filter((c) => c.shape === o.shape && c.color !== o.color)).color;
  const put = (op: 'place' | 'add', o: HowtoObject): HowtoAction => ({ op, color: o.color, shape: o.shape, where: o.where });

  // Each entry: the action and the objects after it.
  const actions: { action: HowtoAction; objects: HowtoObject[] }[] = [];
  switch (plan) {
    case 'place':
      actions.push({ action: put('place', objA), objects: [objA] });
      break;
    case 'place-paint': {
      const before = { ...objA, color: earlierColor(objA) };
      actions.push({ action: put('place', before), objects: [before] });
      actions.push({ action: { op: 'paint', shape: objA.shape, color: objA.color }, objects: [objA] });
      break;
    }
    case 'place-add':
      actions.push({ action: put('place', objA), objects: [objA] });
      actions.push({ action: put('add', objB!), objects: [objA, objB!] });
      break;
    case 'place-add-paint': {
      const paintA = rng.chance(0.5);
      const firstBefore = paintA ? { ...objA, color: earlierColor(objA) } : objA;
      const secondBefore = paintA ? objB! : { ...objB!, color: earlierColor(objB!) };
      const target = paintA ? objA : objB!;
      actions.push({ action: put('place', firstBefore), objects: [firstBefore] });
      actions.push({ action: put('add', secondBefore), objects: [firstBefore, secondBefore] });
      actions.push({ action: { op: 'paint', shape: target.shape, color: target.color }, objects: [objA, objB!] });
      break;
    }
    case 'place-add-remove': {
      const removeFirst = rng.chance(0.5);
      const gone = removeFirst ? objA : objB!;
      actions.push({ action: put('place', objA), objects: [objA] });
      actions.push({ action: put('add', objB!), objects: [objA, objB!] });
      actions.push({ action: { op: 'remove', color: gone.color, shape: gone.shape }, objects: [removeFirst ? objB! : objA] });
      break;
    }
    case 'place-paint-add': {
      const before = { ...objA, color: earlierColor(objA) };
      actions.push({ action: put('place', before), objects: [before] });
      actions.push({ action: { op: 'paint', shape: objA.shape, color: objA.color }, objects: [objA] });
      actions.push({ action: put('add', objB!), objects: [objA, objB!] });
      break;
    }
  }
  const final = actions[actions.length - 1]!.objects;
  const caption = describeScene({ objects: final })!;
  return {
    kind: 'howto',
    question: howtoQuestion(caption),
    caption,
    plan,
    steps: actions.map((s, i) => ({ text: stepText(i + 1, s.action), scene: { objects: s.objects }, action: s.action })),
  };
}

const SAMPLERS: { readonly [K in SampleKind]: (rng: Rng, options: GeneratorOptions) => SampleByKind[K] } = {
  class: sampleClass,
  t2i: sampleT2i,
  mmu: sampleMmu,
  lm: sampleLm,
  howto: sampleHowto,
};

/** One sample of `kind`. A numeric seed gives the same sample every call; pass an {@link Rng} to continue a stream. */
export function sample<K extends SampleKind>(kind: K, random: RandomSource, options: GeneratorOptions = {}): SampleByKind[K] {
  const fn = SAMPLERS[kind] as ((rng: Rng, options: GeneratorOptions) => SampleByKind[K]) | undefined;
  if (!fn) throw new InvalidArgumentError(`unknown sample kind "${String(kind)}"`);
  return fn(toRng(random), options);
}

/** `n` consecutive samples of one kind from one random stream. */
export function sampleBatch<K extends SampleKind>(kind: K, n: number, random: RandomSource, options: GeneratorOptions = {}): SampleByKind[K][] {
  const rng = toRng(random);
  return Array.from({ length: n }, () => sample(kind, rng, options));
}

/**
 * An endless, deterministic stream of samples. `kinds` is one kind, a list (uniform mix) or relative weights
 * (`{ t2i: 2, mmu: 1 }`). The stream is lazy: a trainer pulls as many as a batch needs.
 */
export function sampleStream(
  kinds: SampleKind | readonly SampleKind[] | Readonly<Partial<Record<SampleKind, number>>>,
  random: RandomSource,
  options: GeneratorOptions = {},
): Generator<Sample, never, void> {
  const weights: Partial<Record<SampleKind, number>> =
    typeof kinds === 'string'
      ? { [kinds]: 1 }
      : Array.isArray(kinds)
        ? Object.fromEntries((kinds as readonly SampleKind[]).map((k) => [k, 1]))
        : (kinds as Partial<Record<SampleKind, number>>);
  // Validate now, not at the first pull, so a bad mix fails where it is configured.
  for (const k of Object.keys(weights)) {
    if (!(k in SAMPLERS)) throw new InvalidArgumentError(`unknown sample kind "${k}"`);
  }
  if (!Object.values(weights).some((w) => (w ?? 0) > 0)) throw new InvalidArgumentError('sample mix has no positive weight');
  const rng = toRng(random);
  function* run(): Generator<Sample, never, void> {
    for (;;) yield sample(rng.weighted(weights), rng, options);
  }
  return run();
}

/** A question about a given scene with its definite answer. */
export interface SceneQuestion {
  question: string;
  answer: string;
  questionKind: QuestionKind;
}

/**
 * Every question of the language with a definite answer about `scene`, in random order that alternates between
 * question kinds (so the first few cover several kinds, not ten `exists … no`) — for packing several
 * question–answer pairs about one image into a training row. Questions never name a held-out composition unless
 * `allowHeldOut` (an `exists` question about one would put it into the training text).
 */
export function questionsAbout(scene: Scene, random: RandomSource, options: { allowHeldOut?: boolean } = {}): SceneQuestion[] {
  const rng = toRng(random);
  const pool = compositions(options.allowHeldOut);
  const candidates: Question[] = [{ kind: 'describe' }];
  for (const shape of SHAPES) candidates.push({ kind: 'color', shape }, { kind: 'count', shape });
  for (const color of COLORS) candidates.push({ kind: 'shape', color });
  for (const c of pool) candidates.push({ kind: 'exists', shape: c.shape, color: c.color }, { kind: 'where', shape: c.shape, color: c.color });
  const byKind = new Map<QuestionKind, SceneQuestion[]>();
  for (const q of candidates) {
    const answer = answerQuestion(scene, q);
    if (answer === undefined) continue;
    const list = byKind.get(q.kind) ?? [];
    list.push({ question: questionText(q), answer, questionKind: q.kind });
    byKind.set(q.kind, list);
  }
  const groups = rng.shuffle([...byKind.values()].map((g) => rng.shuffle(g)));
  const out: SceneQuestion[] = [];
  for (let i = 0; out.length < candidates.length; i++) {
    let any = false;
    for (const g of groups) {
      if (i < g.length) {
        out.push(g[i]!);
        any = true;
      }
    }
    if (!any) break;
  }
  return out;
}

import { COLORS, COUNT_WORDS, SHAPES, WHERE_PHRASES, YES_NO_ANSWERS } from './constants.js';
import { detectObjects, type DetectedObject } from './detect.js';
import { relationHolds, satisfiesWhere } from './geometry.js';
import type { HowtoItem, MmuItem, T2iItem } from './jsonl.js';
import { T2I_TAGS } from './jsonl.js';
import { parseDescription, parseQuestion, QUESTION_KINDS, type QuestionKind } from './language.js';
import type { ExpectObject, HowtoScene, T2iExpect } from './types.js';

/** Why an evaluation item failed (one primary cause per failed item or keyframe). */
export type FailureKind =
  | 'missing object'
  | 'extra object'
  | 'wrong color'
  | 'wrong shape'
  | 'unknown shape'
  | 'wrong position'
  | 'wrong relation'
  | 'wrong count'
  | 'wrong existence'
  | 'wrong order'
  | 'malformed answer'
  | 'no output';

/** Failure kinds in report order. */
export const FAILURE_KINDS: readonly FailureKind[] = [
  'missing object',
  'extra object',
  'wrong color',
  'wrong shape',
  'unknown shape',
  'wrong position',
  'wrong relation',
  'wrong count',
  'wrong existence',
  'wrong order',
  'malformed answer',
  'no output',
];

/** Result of scoring one image against an expectation. */
export interface ImageScore {
  readonly pass: boolean;
  /** Primary cause when `pass` is false. */
  readonly failure?: FailureKind;
  /** What the detector found. */
  readonly detected: readonly DetectedObject[];
}

// ---------------------------------------------------------------------------------------------------------------
// Matching detected objects to an expectation

interface Slot {
  readonly owner: number;
  readonly obj: ExpectObject;
}

function slotsOf(expect: T2iExpect): Slot[] {
  const slots: Slot[] = [];
  expect.objects.forEach((obj, owner) => {
    for (let k = 0; k < (obj.count ?? 1); k++) slots.push({ owner, obj });
  });
  return slots;
}

/**
 * Whether some one-to-one assignment of detected objects to expected ones matches shape, colour and (when
 * `useWhere`) `where`, and (when `useRelation`) the relation between every instance of `a` and every instance of
 * `b`. Backtracking: expectations have a handful of objects.
 */
function assignable(expect: T2iExpect, detected: readonly DetectedObject[], size: number, useWhere: boolean, useRelation: boolean): boolean {
  const slots = slotsOf(expect);
  if (slots.length !== detected.length) return false;
  const chosen = new Array<number>(slots.length).fill(-1);
  const used = new Array<boolean>(detected.length).fill(false);
  const rel = useRelation ? expect.relation : undefined;
  const relationOk = (): boolean => {
    if (!rel) return true;
    for (let i = 0; i < slots.length; i++) {
      if (slots[i]!.owner !== rel.a) continue;
      for (let j = 0; j < slots.length; j++) {
        if (slots[j]!.owner === rel.b && !relationHolds(detected[chosen[i]!]!, rel.rel, detected[chosen[j]!]!)) return false;
      }
    }
    return true;
  };
  const visit = (i: number): boolean => {
    if (i === slots.length) return relationOk();
    const want = slots[i]!.obj;
    for (let d = 0; d < detected.length; d++) {
      const got = detected[d]!;
      if (used[d] || got.shape !== want.shape || got.color !== want.color) continue;
      if (useWhere && want.where && !satisfiesWhere(got, want.where, size)) continue;
      used[d] = true;
      chosen[i] = d;
      if (visit(i + 1)) return true;
      used[d] = false;
    }
    return false;
  };
  return visit(0);
}

/** Whether the detected objects are exactly the expected ones with every `where` and the relation holding. */
export function matchesExpect(expect: T2iExpect, detected: readonly DetectedObject[], size = 64): boolean {
  if (detected.some((d) => d.shape === 'unknown')) return false;
  return assignable(expect, detected, size, true, true);
}

const keyOf = (shape: string, color: string) => `${color} ${shape}`;

function tally(items: readonly { shape: string; color: string }[], counts?: readonly number[]): Map<string, number> {
  const m = new Map<string, number>();
  items.forEach((o, i) => m.set(keyOf(o.shape, o.color), (m.get(keyOf(o.shape, o.color)) ?? 0) + (counts?.[i] ?? 1)));
  return m;
}

/**
 * The primary difference between expected and found compositions (multisets), or `undefined` if they are equal
 * and nothing unknown was found.
 */
function compositionFailure(expected: Map<string, number>, found: Map<string, number>, unknowns: number): FailureKind | undefined {
  const missing: string[] = [];
  const extra: string[] = [];
  for (const [k, e] of expected) if ((found.get(k) ?? 0) < e) missing.push(k);
  for (const [k, f] of found) if ((expected.get(k) ?? 0) < f) extra.push(k);
  if (missing.length === 0 && extra.length === 0) return unknowns > 0 ? 'extra object' : undefined;
  // An unknown blob where an object is missing is most likely that object, badly drawn.
  if (unknowns > 0 && missing.length > 0) return 'unknown shape';
  for (const [k, e] of expected) {
    const f = found.get(k) ?? 0;
    if (e >= 2 && f >= 1 && f !== e) return 'wrong count';
  }
  if (missing.length > 0 && extra.length > 0) {
    const split = (k: string) => k.split(' ') as [string, string];
    for (const m of missing) for (const x of extra) if (split(m)[0] === split(x)[0]) return 'wrong shape';
    for (const m of missing) for (const x of extra) if (split(m)[1] === split(x)[1]) return 'wrong color';
    return 'missing object';
  }
  return missing.length > 0 ? 'missing object' : 'extra object';
}

/** Classifies why detected objects fail an expectation; `undefined` if they pass. */
export function classifyT2iFailure(expect: T2iExpect, detected: readonly DetectedObject[], size = 64): FailureKind | undefined {
  if (matchesExpect(expect, detected, size)) return undefined;
  const known = detected.filter((d) => d.shape !== 'unknown');
  const unknowns = detected.length - known.length;
  const byComposition = compositionFailure(
    tally(expect.objects, expect.objects.map((o) => o.count ?? 1)),
    tally(known),
    unknowns,
  );
  if (byComposition) return byComposition;
  return assignable(expect, known, size, true, false) ? 'wrong relation' : 'wrong position';
}

/**
 * Scores a generated image against a `t2i` expectation: passes when the detector finds exactly the expected
 * objects (shape and colour, each with its count) and nothing else, every `where` holds and the relation holds.
 *
 * @param image RGB (or RGBA) bytes, row-major `size × size` (64 for Shapes World).
 */
export function scoreT2I(expect: T2iExpect, image: ArrayLike<number>, size = 64): ImageScore {
  const detected = detectObjects(image, size);
  const failure = classifyT2iFailure(expect, detected, size);
  return failure ? { pass: false, failure, detected } : { pass: true, detected };
}

/**
 * Scores a how-to keyframe: passes when the detector finds exactly the step scene's objects, each with its shape,
 * colour and `where` (size is not judged).
 */
export function scoreHowtoStep(step: HowtoScene | { readonly scene: HowtoScene }, image: ArrayLike<number>, size = 64): ImageScore {
  const scene = 'scene' in step ? step.scene : step;
  return scoreT2I({ objects: scene.objects.map((o) => ({ shape: o.shape, color: o.color, where: o.where })) }, image, size);
}

/** An answer as the understanding score compares it: trimmed, lower-cased, one trailing period dropped. */
export function normalizeAnswer(text: string): string {
  return text.trim().toLowerCase().replace(/\.$/, '').trimEnd();
}

/** Whether an understanding answer is correct (equal to the expected one after {@link normalizeAnswer}). */
export function scoreMmu(answer: string, expected: string): boolean {
  return normalizeAnswer(answer) === normalizeAnswer(expected);
}

const COLOR_WORDS = new Set<string>(COLORS);
const SHAPE_WORDS = new Set<string>(SHAPES);
const COUNT_SET = new Set<string>(COUNT_WORDS);
const YES_NO_SET = new Set<string>(YES_NO_ANSWERS);
const WHERE_SET = new Set<string>(Object.values(WHERE_PHRASES));

/** The kind of a question of the language, or `undefined` for any other text. */
export function questionKindOf(question: string): QuestionKind | undefined {
  return parseQuestion(question)?.kind;
}

/**
 * Classifies a wrong understanding answer: an answer of the right type but wrong value gets the kind's failure
 * (`wrong color`, `wrong shape`, `wrong count`, `wrong existence`, `wrong position`); an answer that is not of the
 * asked type is `malformed answer`; a wrong description is compared object by object (`missing object`,
 * `extra object`, `wrong color`, `wrong shape`, `wrong count`, or `wrong order` when only the order differs).
 * `undefined` when the answer is correct.
 */
export function classifyMmuFailure(question: string, answer: string | undefined, expected: string): FailureKind | undefined {
  if (answer === undefined) return 'no output';
  if (scoreMmu(answer, expected)) return undefined;
  const a = normalizeAnswer(answer);
  switch (questionKindOf(question)) {
    case 'color':
      return COLOR_WORDS.has(a) ? 'wrong color' : 'malformed answer';
    case 'shape':
      return SHAPE_WORDS.has(a) ? 'wrong shape' : 'malformed answer';
    case 'count':
      return COUNT_SET.has(a) ? 'wrong count' : 'malformed answer';
    case 'exists':
      return YES_NO_SET.has(a) ? 'wrong existence' : 'malformed answer';
    case 'where':
      return WHERE_SET.has(a) ? 'wrong position' : 'malformed answer';
    case 'describe': {
      const got = parseDescription(a);
      const want = parseDescription(expected);
      if (!got || !want) return 'malformed answer';
      return compositionFailure(tally(want), tally(got), 0) ?? 'wrong order';
    }
    default:
      return 'malformed answer';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reports

/** Passed out of total. `accuracy` is 0 when `total` is 0. */
export interface Accuracy {
  readonly total: number;
  readonly passed: number;
  readonly accuracy: number;
}

/** How many failed items fell into each failure kind. */
export type FailureCounts = Partial<Record<FailureKind, number>>;

/** A model output per item: a map by item id, or a function of the item. */
export type OutputLookup<I, O> = ReadonlyMap<string, O> | ((item: I, index: number) => O | undefined);

function lookup<I extends { id: string }, O>(source: OutputLookup<I, O>, item: I, index: number): O | undefined {
  return typeof source === 'function' ? source(item, index) : source.get(item.id);
}

class Counter {
  total = 0;
  passed = 0;
  add(pass: boolean): void {
    this.total++;
    if (pass) this.passed++;
  }
  get result(): Accuracy {
    return { total: this.total, passed: this.passed, accuracy: this.total ? this.passed / this.total : 0 };
  }
}

function grouped(keys: readonly string[], order: readonly string[]): Map<string, Counter> {
  // Known keys first in their canonical order, then any others alphabetically.
  const known = order.filter((k) => keys.includes(k));
  const rest = [...new Set(keys.filter((k) => !order.includes(k)))].sort();
  return new Map([...known, ...rest].map((k) => [k, new Counter()]));
}

function finish(groups: Map<string, Counter>): Record<string, Accuracy> {
  return Object.fromEntries([...groups].map(([k, c]) => [k, c.result]));
}

function countFailure(counts: FailureCounts, failure: FailureKind | undefined): void {
  if (failure) counts[failure] = (counts[failure] ?? 0) + 1;
}

/** Per-item result of a generation evaluation. */
export interface T2iItemResult {
  readonly id: string;
  readonly tag: string;
  readonly pass: boolean;
  readonly failure?: FailureKind;
  readonly detected: readonly DetectedObject[];
}

/** Generation evaluation: overall and per-tag accuracy, failure kinds, per-item results. */
export interface T2iReport {
  readonly overall: Accuracy;
  readonly byTag: Readonly<Record<string, Accuracy>>;
  readonly failures: FailureCounts;
  readonly items: readonly T2iItemResult[];
}

/** Scores generated images for `t2i` items (a missing image fails as `no output`). */
export function evaluateT2i(items: readonly T2iItem[], images: OutputLookup<T2iItem, ArrayLike<number>>, size = 64): T2iReport {
  const overall = new Counter();
  const byTag = grouped(items.map((i) => i.tag), T2I_TAGS);
  const failures: FailureCounts = {};
  const results = items.map((item, index): T2iItemResult => {
    const image = lookup(images, item, index);
    const score: ImageScore = image ? scoreT2I(item.expect, image, size) : { pass: false, failure: 'no output', detected: [] };
    overall.add(score.pass);
    byTag.get(item.tag)!.add(score.pass);
    countFailure(failures, score.failure);
    return { id: item.id, tag: item.tag, ...score };
  });
  return { overall: overall.result, byTag: finish(byTag), failures, items: results };
}

/** Per-item result of an understanding evaluation. */
export interface MmuItemResult {
  readonly id: string;
  readonly questionKind: QuestionKind | 'other';
  readonly pass: boolean;
  readonly failure?: FailureKind;
  readonly answer: string | undefined;
  readonly expected: string;
}

/** Understanding evaluation: overall and per-question-kind accuracy, failure kinds, per-item results. */
export interface MmuReport {
  readonly overall: Accuracy;
  readonly byKind: Readonly<Record<string, Accuracy>>;
  readonly failures: FailureCounts;
  readonly items: readonly MmuItemResult[];
}

/** Scores answers for `mmu` items (a missing answer fails as `no output`). */
export function evaluateMmu(items: readonly MmuItem[], answers: OutputLookup<MmuItem, string>): MmuReport {
  const overall = new Counter();
  const kinds = items.map((i) => questionKindOf(i.question) ?? 'other');
  const byKind = grouped(kinds, QUESTION_KINDS);
  const failures: FailureCounts = {};
  const results = items.map((item, index): MmuItemResult => {
    const answer = lookup(answers, item, index);
    const failure = classifyMmuFailure(item.question, answer, item.answer);
    const pass = failure === undefined;
    overall.add(pass);
    byKind.get(kinds[index]!)!.add(pass);
    countFailure(failures, failure);
    return { id: item.id, questionKind: kinds[index]!, pass, ...(failure ? { failure } : {}), answer, expected: item.answer };
  });
  return { overall: overall.result, byKind: finish(byKind), failures, items: results };
}

/** Per-item result of a how-to evaluation. */
export interface HowtoItemResult {
  readonly id: string;
  readonly pass: boolean;
  readonly steps: readonly ImageScore[];
}

/** How-to evaluation: keyframe (step) and sequence accuracy, sequence accuracy by length, failure kinds. */
export interface HowtoReport {
  readonly steps: Accuracy;
  readonly sequences: Accuracy;
  /** Sequence accuracy keyed by number of steps (`"1"`, `"2"`, `"3"`). */
  readonly byLength: Readonly<Record<string, Accuracy>>;
  /** Failure kinds over failed keyframes. */
  readonly failures: FailureCounts;
  readonly items: readonly HowtoItemResult[];
}

/**
 * Scores guided-mode keyframes for `howto` items: `keyframes` gives one image per step (missing ones fail as
 * `no output`); a sequence passes when all its keyframes pass.
 */
export function evaluateHowto(
  items: readonly HowtoItem[],
  keyframes: OutputLookup<HowtoItem, readonly (ArrayLike<number> | undefined)[]>,
  size = 64,
): HowtoReport {
  const steps = new Counter();
  const sequences = new Counter();
  const lengths = items.map((i) => String(i.steps.length));
  const byLength = grouped(lengths, [...new Set(lengths)].sort());
  const failures: FailureCounts = {};
  const results = items.map((item, index): HowtoItemResult => {
    const frames = lookup(keyframes, item, index) ?? [];
    const scores = item.steps.map((step, k): ImageScore => {
      const frame = frames[k];
      const score: ImageScore = frame ? scoreHowtoStep(step, frame, size) : { pass: false, failure: 'no output', detected: [] };
      steps.add(score.pass);
      countFailure(failures, score.failure);
      return score;
    });
    const pass = scores.every((s) => s.pass);
    sequences.add(pass);
    byLength.get(lengths[index]!)!.add(pass);
    return { id: item.id, pass, steps: scores };
  });
  return { steps: steps.result, sequences: sequences.result, byLength: finish(byLength), failures, items: results };
}

/**
 * A Markdown table of accuracies: one row per key, then `all` if `overall` is given.
 *
 * @example formatAccuracyTable('tag', report.byTag, report.overall)
 */
export function formatAccuracyTable(header: string, rows: Readonly<Record<string, Accuracy>>, overall?: Accuracy): string {
  const line = (k: string, a: Accuracy) => `| ${k} | ${a.passed}/${a.total} | ${(a.accuracy * 100).toFixed(1)}% |`;
  const out = [`| ${header} | passed | accuracy |`, '|---|---:|---:|'];
  for (const [k, a] of Object.entries(rows)) out.push(line(k, a));
  if (overall) out.push(line('all', overall));
  return out.join('\n');
}

/** A Markdown table of failure counts, most frequent first. */
export function formatFailureTable(failures: FailureCounts): string {
  const rows = FAILURE_KINDS.filter((k) => failures[k]).sort((a, b) => failures[b]! - failures[a]!);
  return ['| failure | count |', '|---|---:|', ...rows.map((k) => `| ${k} | ${failures[k]} |`)].join('\n');
}

import { COLORS, RELATIONS, SHAPES, SIZES, WHERES } from './constants.js';
import { JsonlLineError } from './errors.js';
import { isHeldOut, type HowtoSample, type MmuSample, type T2iSample } from './generate.js';
import type { ExpectObject, HowtoObject, HowtoScene, RelationKind, Scene, SceneObject, T2iExpect } from './types.js';

/** Tags of the generation evaluation files. */
export const T2I_TAGS = ['single', 'two', 'counting', 'colors', 'position', 'relation', 'heldout'] as const;

/** A tag of `t2i-*.jsonl`. Other strings are accepted (a new file may add tags); reports group by whatever is there. */
export type T2iTag = (typeof T2I_TAGS)[number] | (string & {});

/** One line of `t2i-*.jsonl`. */
export interface T2iItem {
  readonly id: string;
  readonly prompt: string;
  readonly tag: T2iTag;
  readonly expect: T2iExpect;
}

/** One line of `mmu-*.jsonl`. */
export interface MmuItem {
  readonly id: string;
  readonly scene: Scene;
  readonly question: string;
  readonly answer: string;
}

/** One step of a `howto-*.jsonl` line. */
export interface HowtoItemStep {
  readonly text: string;
  readonly scene: HowtoScene;
}

/** One line of `howto-*.jsonl`. */
export interface HowtoItem {
  readonly id: string;
  readonly question: string;
  readonly steps: readonly HowtoItemStep[];
}

/** Options of the JSON Lines parsers. */
export interface JsonlOptions {
  /** File name used in error messages. */
  readonly source?: string;
  /**
   * When given, malformed lines are appended here and skipped instead of thrown, so a whole file can be scored
   * and every problem reported at once.
   */
  readonly errors?: JsonlLineError[];
}

class FormatProblem extends Error {}

type Json = Record<string, unknown>;

function object(v: unknown, path: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FormatProblem(`${path}: expected an object`);
  return v as Json;
}

function string(o: Json, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new FormatProblem(`${path}${key}: expected a string, got ${JSON.stringify(v) ?? 'nothing'}`);
  return v;
}

function oneOf<T extends string>(o: Json, key: string, allowed: readonly T[], path: string): T {
  const v = o[key];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new FormatProblem(`${path}${key}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(v) ?? 'nothing'}`);
  }
  return v as T;
}

function integer(o: Json, key: string, path: string, min = -Infinity, max = Infinity): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new FormatProblem(`${path}${key}: expected an integer in [${min}, ${max}], got ${JSON.stringify(v) ?? 'nothing'}`);
  }
  return v;
}

function array(o: Json, key: string, path: string): unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new FormatProblem(`${path}${key}: expected an array`);
  return v;
}

function expectOf(v: unknown, path: string): T2iExpect {
  const o = object(v, path);
  const objects = array(o, 'objects', `${path}.`).map((e, i): ExpectObject => {
    const p = `${path}.objects[${i}].`;
    const eo = object(e, p.slice(0, -1));
    const out: { -readonly [K in keyof ExpectObject]: ExpectObject[K] } = {
      shape: oneOf(eo, 'shape', SHAPES, p),
      color: oneOf(eo, 'color', COLORS, p),
    };
    if (eo.count !== undefined) out.count = integer(eo, 'count', p, 1);
    if (eo.where !== undefined) out.where = oneOf(eo, 'where', WHERES, p);
    return out;
  });
  if (objects.length === 0) throw new FormatProblem(`${path}.objects: expected at least one object`);
  if (o.relation === undefined) return { objects };
  const p = `${path}.relation.`;
  const r = object(o.relation, p.slice(0, -1));
  const a = integer(r, 'a', p, 0, objects.length - 1);
  const b = integer(r, 'b', p, 0, objects.length - 1);
  if (a === b) throw new FormatProblem(`${p}b: a relation needs two different objects`);
  return { objects, relation: { a, rel: oneOf<RelationKind>(r, 'rel', RELATIONS, p), b } };
}

function sceneObjectOf(v: unknown, path: string): SceneObject {
  const o = object(v, path);
  const p = `${path}.`;
  return {
    shape: oneOf(o, 'shape', SHAPES, p),
    color: oneOf(o, 'color', COLORS, p),
    size: oneOf(o, 'size', SIZES, p),
    cx: integer(o, 'cx', p),
    cy: integer(o, 'cy', p),
  };
}

function sceneOf(v: unknown, path: string): Scene {
  const o = object(v, path);
  return { objects: array(o, 'objects', `${path}.`).map((e, i) => sceneObjectOf(e, `${path}.objects[${i}]`)) };
}

function howtoSceneOf(v: unknown, path: string): HowtoScene {
  const o = object(v, path);
  return {
    objects: array(o, 'objects', `${path}.`).map((e, i): HowtoObject => {
      const p = `${path}.objects[${i}]`;
      return { ...sceneObjectOf(e, p), where: oneOf(object(e, p), 'where', WHERES, `${p}.`) };
    }),
  };
}

/** Validates one parsed `t2i` line; throws a message naming the bad field. */
function t2iItemOf(v: unknown): T2iItem {
  const o = object(v, 'line');
  return { id: string(o, 'id', ''), prompt: string(o, 'prompt', ''), tag: string(o, 'tag', ''), expect: expectOf(o.expect, 'expect') };
}

function mmuItemOf(v: unknown): MmuItem {
  const o = object(v, 'line');
  return { id: string(o, 'id', ''), scene: sceneOf(o.scene, 'scene'), question: string(o, 'question', ''), answer: string(o, 'answer', '') };
}

function howtoItemOf(v: unknown): HowtoItem {
  const o = object(v, 'line');
  const steps = array(o, 'steps', '').map((s, i): HowtoItemStep => {
    const p = `steps[${i}]`;
    const so = object(s, p);
    return { text: string(so, 'text', `${p}.`), scene: howtoSceneOf(so.scene, `${p}.scene`) };
  });
  if (steps.length === 0) throw new FormatProblem('steps: expected at least one step');
  return { id: string(o, 'id', ''), question: string(o, 'question', ''), steps };
}

/**
 * Parses JSON Lines: one JSON value per non-blank line, each passed through `convert` (which may throw to reject
 * it). A malformed line raises {@link JsonlLineError} with its 1-based line number, or is collected into
 * `options.errors` and skipped. Items with an `id` already seen are malformed too.
 */
export function parseJsonl<T>(text: string, convert: (value: unknown) => T, options: JsonlOptions = {}): T[] {
  const out: T[] = [];
  const ids = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    try {
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (e) {
        throw new FormatProblem(`invalid JSON (${(e as Error).message})`);
      }
      const item = convert(value);
      const id = (item as { id?: unknown }).id;
      if (typeof id === 'string') {
        if (ids.has(id)) throw new FormatProblem(`duplicate id "${id}"`);
        ids.add(id);
      }
      out.push(item);
    } catch (e) {
      const err = new JsonlLineError(i + 1, e instanceof Error ? e.message : String(e), options.source);
      if (!options.errors) throw err;
      options.errors.push(err);
    }
  }
  return out;
}

/** Parses a `t2i-*.jsonl` file's text. */
export function parseT2iJsonl(text: string, options?: JsonlOptions): T2iItem[] {
  return parseJsonl(text, t2iItemOf, options);
}

/** Parses an `mmu-*.jsonl` file's text. */
export function parseMmuJsonl(text: string, options?: JsonlOptions): MmuItem[] {
  return parseJsonl(text, mmuItemOf, options);
}

/** Parses a `howto-*.jsonl` file's text. */
export function parseHowtoJsonl(text: string, options?: JsonlOptions): HowtoItem[] {
  return parseJsonl(text, howtoItemOf, options);
}

/**
 * The `t2i` line of a generated sample. The tag defaults to what the caption tests: `heldout` if it names a
 * held-out composition, else `position` for a single caption with a place, else the caption kind (`single`,
 * `counting`, `two`, `relation`).
 */
export function t2iItemFromSample(sample: T2iSample, id: string, tag?: T2iTag): T2iItem {
  const heldOut = sample.expect.objects.some((o) => isHeldOut(o.shape, o.color));
  const auto =
    heldOut ? 'heldout' : sample.captionKind === 'single' && sample.expect.objects[0]?.where ? 'position' : sample.captionKind;
  return { id, prompt: sample.caption, tag: tag ?? auto, expect: sample.expect };
}

/** The `mmu` line of a generated sample. */
export function mmuItemFromSample(sample: MmuSample, id: string): MmuItem {
  return { id, scene: { objects: sample.scene.objects.map(plainObject) }, question: sample.question, answer: sample.answer };
}

/** The `howto` line of a generated sample (keyframe objects carry their `where`; actions are dropped). */
export function howtoItemFromSample(sample: HowtoSample, id: string): HowtoItem {
  return {
    id,
    question: sample.question,
    steps: sample.steps.map((s) => ({ text: s.text, scene: { objects: s.scene.objects.map((o) => ({ ...plainObject(o), where: o.where })) } })),
  };
}

function plainObject(o: SceneObject): SceneObject {
  // Fixed key order, so written files read like the public ones.
  return { shape: o.shape, color: o.color, size: o.size, cx: o.cx, cy: o.cy };
}

/** Items as JSON Lines text (one compact JSON object per line, trailing newline). */
export function toJsonl(items: readonly unknown[]): string {
  return items.map((i) => JSON.stringify(i) + '\n').join('');
}

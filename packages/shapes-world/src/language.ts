import { COLORS, COUNT_WORDS, RELATION_PHRASES, RELATIONS, SHAPES, SIZES, WHERE_PHRASES, WHERES, YES_NO_ANSWERS } from './constants.js';
import { askableWhere, parseWherePhrase, wherePhrase } from './geometry.js';
import type { Color, Composition, ExpectObject, ObjectView, RelationKind, Shape, Size, T2iExpect, Where } from './types.js';

/**
 * Every sentence the language produces is one of these templates with its `{slots}` filled; the vocabulary is
 * computed from this table, so a new template cannot emit a word the vocabulary lacks.
 */
export const TEMPLATES = {
  object: 'a {color} {shape}',
  sizedObject: 'a {size} {color} {shape}',
  located: '{object} {where}',
  counting: '{count} {color} {shapes}',
  and: '{a} and {b}',
  relation: '{a} {rel} {b}',
  qColor: 'what color is the {shape}?',
  qShape: 'what shape is the {color} object?',
  qCount: 'how many {shapes} are there?',
  qExists: 'is there a {color} {shape}?',
  qWhere: 'where is the {color} {shape}?',
  qDescribe: 'describe the image.',
  howto: 'how do i build {caption}?',
  place: 'step {n}: place a {color} {shape} {where}.',
  add: 'step {n}: add a {color} {shape} {where}.',
  paint: 'step {n}: paint the {shape} {color}.',
  remove: 'step {n}: remove the {color} {shape}.',
  lmQa: '{caption}. {question} {answer}',
  lmSequence: '{question} {steps}',
} as const;

/** Most steps a how-to sequence has. */
export const MAX_HOWTO_STEPS = 3;


function fill(template: string, slots: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => slots[k] ?? '');
}

/**
 * The word-level split the project's text tokenizer uses: words separated by spaces, and `?`, `.`, `:`, `,` as
 * tokens of their own (`step 1: add …` → `step`, `1`, `:`, `add`, …).
 */
export function splitWords(text: string): string[] {
  const t = text.replace(/([?.:,])/g, ' $1 ').trim();
  return t === '' ? [] : t.split(/\s+/);
}

/** Plural of a shape name (`circles`). */
export function pluralShape(shape: Shape): string {
  return shape + 's';
}

/** Count word for 1–3 (`one`, `two`, `three`); throws outside that range, which the language cannot say. */
export function countWord(n: number): string {
  const w = COUNT_WORDS[n - 1];
  if (w === undefined || !Number.isInteger(n)) throw new RangeError(`the language counts only one to three, got ${n}`);
  return w;
}

/** `a [size ]<color> <shape>`. */
export function objectPhrase(color: Color, shape: Shape, size?: Size): string {
  return size ? fill(TEMPLATES.sizedObject, { size, color, shape }) : fill(TEMPLATES.object, { color, shape });
}

/** Single-object caption: `a [small|large] <color> <shape>[ <where>]`. */
export function singleCaption(o: { color: Color; shape: Shape; size?: Size; where?: Where }): string {
  const obj = objectPhrase(o.color, o.shape, o.size);
  return o.where ? fill(TEMPLATES.located, { object: obj, where: wherePhrase(o.where) }) : obj;
}

/** Counting caption: `two <color> <shape>s` / `three …`. */
export function countingCaption(count: 2 | 3, color: Color, shape: Shape): string {
  return fill(TEMPLATES.counting, { count: countWord(count), color, shapes: pluralShape(shape) });
}

/** Objects joined with ` and `: `a <color> <shape> and a <color> <shape>[ and …]`. */
export function andCaption(objects: readonly Composition[]): string {
  let out = '';
  for (const o of objects) {
    const p = objectPhrase(o.color, o.shape);
    out = out === '' ? p : fill(TEMPLATES.and, { a: out, b: p });
  }
  return out;
}

/** Relation caption: `a <color> <shape> <rel> a <color> <shape>`. */
export function relationCaption(a: Composition, rel: RelationKind, b: Composition): string {
  return fill(TEMPLATES.relation, {
    a: objectPhrase(a.color, a.shape),
    rel: RELATION_PHRASES[rel],
    b: objectPhrase(b.color, b.shape),
  });
}

function canonicalOrder<T extends ObjectView>(objects: readonly T[]): T[] {
  // Ties in x are broken by y, then by input order (sort is stable), so the caption is a function of the scene.
  return [...objects].sort((p, q) => p.cx - q.cx || p.cy - q.cy);
}

/**
 * The canonical caption (answer of `describe the image.`): every object as `a <color> <shape>`, ordered by
 * centre x (ties by centre y), joined with ` and `. `undefined` for an empty scene or one with an `unknown` shape.
 */
export function describeScene(scene: { readonly objects: readonly ObjectView[] }): string | undefined {
  if (scene.objects.length === 0) return undefined;
  const ordered = canonicalOrder(scene.objects);
  if (ordered.some((o) => o.shape === 'unknown')) return undefined;
  return andCaption(ordered as Composition[]);
}

/** The six kinds of question. */
export type QuestionKind = 'color' | 'shape' | 'count' | 'exists' | 'where' | 'describe';

/** Question kinds in canonical order. */
export const QUESTION_KINDS: readonly QuestionKind[] = ['color', 'shape', 'count', 'exists', 'where', 'describe'];

/** A structured question. */
export type Question =
  | { readonly kind: 'color'; readonly shape: Shape }
  | { readonly kind: 'shape'; readonly color: Color }
  | { readonly kind: 'count'; readonly shape: Shape }
  | { readonly kind: 'exists'; readonly shape: Shape; readonly color: Color }
  | { readonly kind: 'where'; readonly shape: Shape; readonly color: Color }
  | { readonly kind: 'describe' };

/** The text of a question (`what color is the circle?`, …). */
export function questionText(q: Question): string {
  switch (q.kind) {
    case 'color':
      return fill(TEMPLATES.qColor, { shape: q.shape });
    case 'shape':
      return fill(TEMPLATES.qShape, { color: q.color });
    case 'count':
      return fill(TEMPLATES.qCount, { shapes: pluralShape(q.shape) });
    case 'exists':
      return fill(TEMPLATES.qExists, { color: q.color, shape: q.shape });
    case 'where':
      return fill(TEMPLATES.qWhere, { color: q.color, shape: q.shape });
    case 'describe':
      return TEMPLATES.qDescribe;
  }
}

const COLOR_RE = COLORS.join('|');
const SHAPE_RE = SHAPES.join('|');
const Q_PATTERNS: readonly [RegExp, (m: RegExpMatchArray) => Question][] = [
  [new RegExp(`^what color is the (${SHAPE_RE})\\?$`), (m) => ({ kind: 'color', shape: m[1] as Shape })],
  [new RegExp(`^what shape is the (${COLOR_RE}) object\\?$`), (m) => ({ kind: 'shape', color: m[1] as Color })],
  [new RegExp(`^how many (${SHAPE_RE})s are there\\?$`), (m) => ({ kind: 'count', shape: m[1] as Shape })],
  [new RegExp(`^is there a (${COLOR_RE}) (${SHAPE_RE})\\?$`), (m) => ({ kind: 'exists', color: m[1] as Color, shape: m[2] as Shape })],
  [new RegExp(`^where is the (${COLOR_RE}) (${SHAPE_RE})\\?$`), (m) => ({ kind: 'where', color: m[1] as Color, shape: m[2] as Shape })],
  [/^describe the image\.$/, () => ({ kind: 'describe' })],
];

/** Parses a question of the language (after trimming and lower-casing); `undefined` if it is not one. */
export function parseQuestion(text: string): Question | undefined {
  const t = text.trim().toLowerCase().replace(/\s+/g, ' ');
  for (const [re, make] of Q_PATTERNS) {
    const m = t.match(re);
    if (m) return make(m);
  }
  return undefined;
}

/**
 * The correct answer to a question about a scene (scene objects or detected objects), or `undefined` when the
 * language has no unambiguous answer: the shape/colour asked about is absent or repeated, a count above three,
 * `where` of an absent, repeated or corner object, `describe` of an empty scene or one with an unknown shape.
 */
export function answerQuestion(
  scene: { readonly objects: readonly ObjectView[] },
  question: Question | string,
  size = 64,
): string | undefined {
  const q = typeof question === 'string' ? parseQuestion(question) : question;
  if (!q) return undefined;
  const objs = scene.objects;
  switch (q.kind) {
    case 'color': {
      const hits = objs.filter((o) => o.shape === q.shape);
      return hits.length === 1 ? hits[0]!.color : undefined;
    }
    case 'shape': {
      const hits = objs.filter((o) => o.color === q.color);
      return hits.length === 1 && hits[0]!.shape !== 'unknown' ? hits[0]!.shape : undefined;
    }
    case 'count': {
      const n = objs.filter((o) => o.shape === q.shape).length;
      return n >= 1 && n <= COUNT_WORDS.length ? countWord(n) : undefined;
    }
    case 'exists':
      return objs.some((o) => o.shape === q.shape && o.color === q.color) ? 'yes' : 'no';
    case 'where': {
      const hits = objs.filter((o) => o.shape === q.shape && o.color === q.color);
      if (hits.length !== 1) return undefined;
      const w = askableWhere(hits[0]!, size);
      return w ? wherePhrase(w) : undefined;
    }
    case 'describe':
      return describeScene(scene);
  }
}

const OBJ_RE = `a (${COLOR_RE}) (${SHAPE_RE})`;
const WHERE_RE = WHERES.map((w) => WHERE_PHRASES[w]).join('|');
const REL_RE = RELATIONS.map((r) => RELATION_PHRASES[r]).join('|');
const SINGLE_CAPTION = new RegExp(`^a (?:(${SIZES.join('|')}) )?(${COLOR_RE}) (${SHAPE_RE})(?: (${WHERE_RE}))?$`);
const COUNT_CAPTION = new RegExp(`^(${COUNT_WORDS.slice(1).join('|')}) (${COLOR_RE}) (${SHAPE_RE})s$`);
const REL_CAPTION = new RegExp(`^${OBJ_RE} (${REL_RE}) ${OBJ_RE}$`);
const AND_CAPTION = new RegExp(`^${OBJ_RE}(?: and ${OBJ_RE})+$`);
const OBJ_GLOBAL = new RegExp(OBJ_RE, 'g');
const PHRASE_TO_REL = new Map<string, RelationKind>(RELATIONS.map((r) => [RELATION_PHRASES[r], r]));

/**
 * Parses a list of objects written as `a <color> <shape>[ and a <color> <shape>…]` (a description), in order;
 * `undefined` if the text is not such a list.
 */
export function parseDescription(text: string): Composition[] | undefined {
  const t = text.trim().toLowerCase().replace(/\.$/, '').trim();
  if (!new RegExp(`^${OBJ_RE}(?: and ${OBJ_RE})*$`).test(t)) return undefined;
  return [...t.matchAll(OBJ_GLOBAL)].map((m) => ({ color: m[1] as Color, shape: m[2] as Shape }));
}

/**
 * Parses a caption of the language into the expectation a generated image must meet (the `expect` of the
 * `t2i` format): size words are dropped (the detector does not judge size), `where` and relations kept.
 * `undefined` if the text is not a caption of the language.
 */
export function parseCaption(text: string): T2iExpect | undefined {
  const t = text.trim().toLowerCase().replace(/\s+/g, ' ');
  let m = t.match(SINGLE_CAPTION);
  if (m) {
    const obj: ExpectObject = { shape: m[3] as Shape, color: m[2] as Color };
    const where = m[4] ? parseWherePhrase(m[4]) : undefined;
    return { objects: [where ? { ...obj, where } : obj] };
  }
  m = t.match(COUNT_CAPTION);
  if (m) return { objects: [{ shape: m[3] as Shape, color: m[2] as Color, count: COUNT_WORDS.indexOf(m[1]!) + 1 }] };
  m = t.match(REL_CAPTION);
  if (m) {
    return {
      objects: [
        { shape: m[2] as Shape, color: m[1] as Color },
        { shape: m[5] as Shape, color: m[4] as Color },
      ],
      relation: { a: 0, rel: PHRASE_TO_REL.get(m[3]!)!, b: 1 },
    };
  }
  if (AND_CAPTION.test(t)) return { objects: parseDescription(t)! };
  return undefined;
}

/** One step of a how-to sequence, structured. `paint` gives the new colour; `remove` names the object. */
export type HowtoAction =
  | { readonly op: 'place' | 'add'; readonly color: Color; readonly shape: Shape; readonly where: Where }
  | { readonly op: 'paint'; readonly shape: Shape; readonly color: Color }
  | { readonly op: 'remove'; readonly color: Color; readonly shape: Shape };

/** `how do i build <caption>?` */
export function howtoQuestion(caption: string): string {
  return fill(TEMPLATES.howto, { caption });
}

/** The caption inside a how-to question, or `undefined`. */
export function parseHowtoQuestion(text: string): string | undefined {
  const m = text.trim().toLowerCase().match(/^how do i build (.+)\?$/);
  return m ? m[1] : undefined;
}

/** The text of step `n` (1-based): `step <n>: place a <color> <shape> <where>.` and so on. */
export function stepText(n: number, action: HowtoAction): string {
  const slots = { n: String(n), color: action.color, shape: action.shape };
  switch (action.op) {
    case 'place':
    case 'add':
      return fill(TEMPLATES[action.op], { ...slots, where: wherePhrase(action.where) });
    case 'paint':
    case 'remove':
      return fill(TEMPLATES[action.op], slots);
  }
}

const STEP_PLACE = new RegExp(`^step (\\d+): (place|add) a (${COLOR_RE}) (${SHAPE_RE}) (${WHERE_RE})\\.$`);
const STEP_PAINT = new RegExp(`^step (\\d+): paint the (${SHAPE_RE}) (${COLOR_RE})\\.$`);
const STEP_REMOVE = new RegExp(`^step (\\d+): remove the (${COLOR_RE}) (${SHAPE_RE})\\.$`);

/** Parses a step text; `undefined` if it is not a step of the language. */
export function parseStepText(text: string): { n: number; action: HowtoAction } | undefined {
  const t = text.trim().toLowerCase().replace(/\s+/g, ' ');
  let m = t.match(STEP_PLACE);
  if (m) {
    const op = m[2] as 'place' | 'add';
    return { n: Number(m[1]), action: { op, color: m[3] as Color, shape: m[4] as Shape, where: parseWherePhrase(m[5]!)! } };
  }
  m = t.match(STEP_PAINT);
  if (m) return { n: Number(m[1]), action: { op: 'paint', shape: m[2] as Shape, color: m[3] as Color } };
  m = t.match(STEP_REMOVE);
  if (m) return { n: Number(m[1]), action: { op: 'remove', color: m[2] as Color, shape: m[3] as Shape } };
  return undefined;
}

/** A text-only line pairing a described scene with a question and its answer (`<caption>. <question> <answer>`). */
export function lmQaLine(caption: string, question: string, answer: string): string {
  return fill(TEMPLATES.lmQa, { caption, question, answer });
}

/** A text-only how-to line: the question followed by its step texts. */
export function lmSequenceLine(question: string, steps: readonly string[]): string {
  return fill(TEMPLATES.lmSequence, { question, steps: steps.join(' ') });
}

let vocabulary: readonly string[] | undefined;

/**
 * Every word and punctuation token (per {@link splitWords}) the language can produce, sorted by code point.
 * Computed from the template table and the word lists that fill its slots.
 */
export function vocabularyWords(): readonly string[] {
  if (vocabulary) return vocabulary;
  const words = new Set<string>();
  const add = (text: string) => splitWords(text).forEach((w) => words.add(w));
  for (const t of Object.values(TEMPLATES)) add(fill(t, {}));
  [...COLORS, ...SHAPES, ...SHAPES.map(pluralShape), ...SIZES, ...COUNT_WORDS, ...YES_NO_ANSWERS].forEach(add);
  Object.values(WHERE_PHRASES).forEach(add);
  Object.values(RELATION_PHRASES).forEach(add);
  for (let n = 1; n <= MAX_HOWTO_STEPS; n++) add(String(n));
  vocabulary = Object.freeze([...words].sort());
  return vocabulary;
}

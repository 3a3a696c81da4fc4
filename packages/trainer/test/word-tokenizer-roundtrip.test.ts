// The embedded model's word tokenizer (@showo/prompting) is lossless on every sentence Shapes World
// (@showo/shapes-world) can produce. It lives in trainer's tests because trainer is the lowest layer that depends
// on both packages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENDOFTEXT_TOKEN, UNK_TOKEN, WORD_PUNCTUATION, WordTokenizer, buildWordVocabulary } from '@showo/prompting';
import {
  COLORS,
  COUNT_WORDS,
  MAX_HOWTO_STEPS,
  RELATIONS,
  SHAPES,
  SIZES,
  WHERES,
  YES_NO_ANSWERS,
  andCaption,
  compositions,
  countingCaption,
  howtoQuestion,
  lmQaLine,
  questionText,
  relationCaption,
  sampleBatch,
  singleCaption,
  stepText,
  textsOf,
  vocabularyWords,
  wherePhrase,
  type Question,
  type SampleKind,
} from '@showo/shapes-world';

/** Every sentence of the grammar's finite parts, enumerated; the open-ended lines (lm, how-to) are sampled below. */
function enumerateSentences(): string[] {
  const out: string[] = [...SHAPES, ...COLORS, ...COUNT_WORDS, ...YES_NO_ANSWERS, ...WHERES.map(wherePhrase)];
  const comps = compositions(true);
  const captions: string[] = [];
  for (const size of [undefined, ...SIZES]) {
    for (const { color, shape } of comps) {
      for (const where of [undefined, ...WHERES]) captions.push(singleCaption({ color, shape, ...(size ? { size } : {}), ...(where ? { where } : {}) }));
    }
  }
  for (const count of [2, 3] as const) for (const { color, shape } of comps) captions.push(countingCaption(count, color, shape));
  for (const a of comps) {
    for (const b of comps) {
      captions.push(andCaption([a, b]));
      for (const rel of RELATIONS) captions.push(relationCaption(a, rel, b));
    }
  }
  for (const a of comps.slice(0, 6)) for (const b of comps) for (const c of comps) captions.push(andCaption([a, b, c]));
  out.push(...captions, ...captions.map(howtoQuestion));
  const questions: Question[] = [{ kind: 'describe' }];
  for (const shape of SHAPES) {
    questions.push({ kind: 'color', shape }, { kind: 'count', shape });
    for (const color of COLORS) questions.push({ kind: 'exists', shape, color }, { kind: 'where', shape, color });
  }
  for (const color of COLORS) questions.push({ kind: 'shape', color });
  out.push(...questions.map(questionText));
  for (let n = 1; n <= MAX_HOWTO_STEPS; n++) {
    for (const { color, shape } of comps) {
      out.push(stepText(n, { op: 'paint', shape, color }), stepText(n, { op: 'remove', color, shape }));
      for (const where of WHERES) out.push(stepText(n, { op: 'place', color, shape, where }), stepText(n, { op: 'add', color, shape, where }));
    }
  }
  out.push(lmQaLine(captions[0]!, questionText(questions[0]!), captions[1]!));
  return out;
}

/** Sentences drawn from the generator itself, every kind, with and without the held-out compositions. */
function sampledSentences(): string[] {
  const out: string[] = [];
  const kinds: SampleKind[] = ['class', 't2i', 'mmu', 'lm', 'howto'];
  for (const allowHeldOut of [false, true]) {
    kinds.forEach((kind, k) => {
      for (const s of sampleBatch(kind, 150, 1000 + k + (allowHeldOut ? 100 : 0), { allowHeldOut })) out.push(...textsOf(s));
    });
  }
  return out;
}

test('the word tokenizer round-trips every sentence Shapes World produces', () => {
  const vocabulary = buildWordVocabulary(vocabularyWords());
  // Building adds only the two special tokens and the tokenizer's punctuation marks the language does not use.
  const words = new Set(vocabularyWords());
  assert.deepEqual(
    vocabulary.filter((w) => !words.has(w)).filter((w) => !WORD_PUNCTUATION.includes(w)),
    [UNK_TOKEN, ENDOFTEXT_TOKEN],
  );
  assert.ok([...words].every((w) => vocabulary.includes(w)));
  const tokenizer = new WordTokenizer(vocabulary, { strict: true }); // an unknown word would throw, naming it
  const sentences = [...enumerateSentences(), ...sampledSentences()];
  assert.ok(sentences.length > 5000);
  for (const s of sentences) {
    const ids = tokenizer.encode(s);
    assert.equal(tokenizer.decode(ids), s, s);
  }
});

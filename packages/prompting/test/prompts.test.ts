import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError, RecordedUniforms } from '@showo/runtime';
import {
  ImageTokenCountError,
  PromptTooLongError,
  TokenLayout,
  UniversalPrompting,
  UnknownSpecialTokenError,
  WordTokenizer,
  buildWordVocabulary,
  maskImageRegion,
  shiftForExtrapolation,
  type PromptBatch,
} from '../src/index.js';
import { readFixture, syntheticSetup, tinyDir, tinySetup } from './fixtures.js';

function buildCase(p: UniversalPrompting, c: any): PromptBatch {
  const inp = c.inputs;
  const u = inp.text_ids?.map(() => 0.5);
  switch (c.task) {
    case 't2i_gen':
      return p.t2iGen({ texts: inp.text_ids, imageIds: inp.image_ids });
    case 'lvg_gen':
      return p.lvgGen({ texts: inp.text_ids, imageIds: inp.image_ids });
    case 't2i':
      return p.t2i({ texts: inp.text_ids, imageIds: inp.image_ids, labels: inp.labels, condDropoutProb: inp.cond_dropout_prob, dropoutUniforms: u });
    case 'lvg':
      return p.lvg({ texts: inp.text_ids, imageIds: inp.image_ids, labels: inp.labels, condDropoutProb: inp.cond_dropout_prob ?? 0, dropoutUniforms: u });
    case 'lm':
      return p.lm({ texts: inp.text_ids, maxSeqLen: inp.max_seq_len });
    case 'mmu':
      return p.mmu({ imageIds: inp.image_ids, texts: inp.text_ids });
    default:
      assert.equal(c.name, 'interleaved_lvg', `unexpected case ${c.name}`);
      return p.interleaved({
        rows: inp.text_ids_1.map((t1: number[], b: number) => [
          { text: t1, imageIds: inp.image_ids_1[b] },
          { text: inp.text_ids_2[b], imageIds: inp.image_ids_2[b] },
        ]),
      });
  }
}

test('every prompts.json case: sequence ids and labels exactly', (t) => {
  const dir = tinyDir();
  if (!dir) return t.skip('fixtures missing');
  const { prompting, layout } = tinySetup(dir);
  const { cases } = readFixture(dir, 'prompts.json');
  assert.ok(cases.length >= 10);
  for (const c of cases) {
    const batch = buildCase(prompting, c);
    assert.deepEqual(batch.inputIds, c.outputs.sequence_ids, `${c.name}: sequence_ids`);
    if (c.outputs.label_ids) assert.deepEqual(batch.labels, c.outputs.label_ids, `${c.name}: label_ids`);
    // The 1-D mask is the sensible one (1 = token, 0 = [PAD]), not the official all-ones.
    assert.deepEqual(batch.attentionMask, batch.inputIds.map((r) => r.map((id) => (id === layout.padId ? 0 : 1))), `${c.name}: 1-D mask`);
  }
});

test('mmu.json prompt (inference_mmu.py) and maskgit.json initial prompts', (t) => {
  const dir = tinyDir();
  if (!dir) return t.skip('fixtures missing');
  const { prompting } = tinySetup(dir);
  for (const run of readFixture(dir, 'mmu.json').runs) {
    const batch = prompting.mmuGen({ imageIds: run.image_ids, texts: [run.question_text_ids] });
    assert.deepEqual(batch.inputIds, run.prompt_ids);
  }
  for (const run of readFixture(dir, 'maskgit.json').runs) {
    const N = prompting.numVqTokens;
    const masked = run.text_ids.map(() => new Array(N).fill(prompting.layout.maskId));
    assert.deepEqual(prompting.t2iGen({ texts: run.text_ids, imageIds: masked }).inputIds, run.input_ids_initial);
    if (run.uncond_input_ids_initial) {
      assert.deepEqual(prompting.t2iGen({ texts: run.text_ids.map(() => []), imageIds: masked }).inputIds, run.uncond_input_ids_initial);
    }
  }
});

test('t2i condition dropout: dropped iff u < p (float32), injected uniforms', () => {
  const { prompting, layout } = syntheticSetup();
  const img = [210, 211, 212, 274];
  const labels = [-100, -100, -100, 213];
  const input = { texts: [[5, 6], [7], [8]], imageIds: [img, img, img], labels: [labels, labels, labels], condDropoutProb: 0.1 };
  const batch = prompting.t2i({ ...input, dropoutUniforms: [0.05, 0.6, 0.1] });
  assert.deepEqual(batch.conditionDropped, [true, false, false]);
  const mtl = prompting.maxTextLen;
  const t2i = layout.special('<|t2i|>');
  assert.deepEqual(batch.inputIds[0]!.slice(0, mtl), [...new Array(mtl - 3).fill(200), t2i, 199, 199]);
  assert.deepEqual(batch.inputIds[1]!.slice(mtl - 4, mtl), [t2i, 199, 7, 199]);
  assert.deepEqual(batch.labels![0]!.slice(0, mtl), [...new Array(mtl - 3).fill(-100), t2i, 199, 199]);
  assert.deepEqual(batch.labels![0]!.slice(mtl), [201, ...labels, 202]);
  // A random source instead of recorded uniforms.
  assert.deepEqual(prompting.t2i({ ...input, random: new RecordedUniforms([0.01, 0.02, 0.03]) }).conditionDropped, [true, true, true]);
  // No hidden randomness.
  assert.throws(() => prompting.t2i(input), InvalidArgumentError);
  assert.throws(() => prompting.t2i({ ...input, dropoutUniforms: [0.5] }), InvalidArgumentError);
  assert.deepEqual(prompting.t2i({ ...input, condDropoutProb: 0 }).conditionDropped, [false, false, false]);
  // The official default probability is 0.1.
  assert.equal(prompting.condDropoutProb, 0.1);
});

test('truncation the official way, or PromptTooLongError in strict mode', () => {
  const { prompting, layout } = syntheticSetup();
  const { prompting: strict } = syntheticSetup({ strict: true });
  const long = Array.from({ length: 30 }, (_, i) => i);
  const img = [210, 211, 212, 213];
  const mtl = prompting.maxTextLen;
  const t2i = prompting.t2iGen({ texts: [long], imageIds: [img] }).inputIds[0]!;
  assert.deepEqual(t2i.slice(0, mtl), [layout.special('<|t2i|>'), 199, ...long.slice(0, mtl - 3), 199]);
  assert.throws(() => strict.t2iGen({ texts: [long], imageIds: [img] }), (e: unknown) => e instanceof PromptTooLongError && e.row === 0 && e.length === 33 && e.limit === mtl);
  assert.throws(() => prompting.t2iGen({ texts: [long], imageIds: [img] }, { strict: true }), PromptTooLongError);
  const mmu = prompting.mmu({ imageIds: [img], texts: [long] }).inputIds[0]!;
  assert.deepEqual(mmu.slice(7), [199, ...long.slice(0, 14), 199]);
  assert.throws(() => strict.mmu({ imageIds: [img], texts: [long] }), PromptTooLongError);
  const lm = prompting.lm({ texts: [long], maxSeqLen: 10 });
  assert.deepEqual(lm.inputIds[0], [199, ...long.slice(0, 9)]); // no EOS when cut
  assert.deepEqual(lm.labels![0], lm.inputIds[0]);
  assert.throws(() => strict.lm({ texts: [long], maxSeqLen: 10 }), PromptTooLongError);
  // Fits exactly: no truncation, no error.
  const fits = Array.from({ length: mtl - 3 }, (_, i) => i);
  assert.doesNotThrow(() => strict.t2iGen({ texts: [fits], imageIds: [img] }));
});

test('padding sides: t2i left, lm and mmu right; lm default length is the t2i length', () => {
  const { prompting } = syntheticSetup();
  const img = [210, 211, 212, 213];
  assert.equal(prompting.t2iGen({ texts: [[1]], imageIds: [img] }).inputIds[0]![0], 200);
  const lm = prompting.lm({ texts: [[1, 2]] });
  assert.equal(lm.inputIds[0]!.length, prompting.t2iSequenceLength);
  assert.deepEqual(lm.inputIds[0]!.slice(0, 5), [199, 1, 2, 199, 200]);
  assert.deepEqual(lm.attentionMask[0]!.slice(0, 5), [1, 1, 1, 1, 0]);
  const mmu = prompting.mmu({ imageIds: [img], texts: [[]] });
  assert.equal(mmu.inputIds[0]!.length, prompting.mmuSequenceLength);
  assert.deepEqual(mmu.inputIds[0]!.slice(7, 10), [199, 199, 200]); // empty text → BOS EOS, then PAD
  assert.deepEqual(mmu.labels![0]!.slice(0, 7), new Array(7).fill(-100));
});

test('typed errors: image-token count, non-image ids, unknown special token, batch sizes', () => {
  const { prompting } = syntheticSetup();
  assert.throws(() => prompting.t2iGen({ texts: [[1]], imageIds: [[210, 211]] }), (e: unknown) => e instanceof ImageTokenCountError && e.expected === 4 && e.actual === 2);
  assert.throws(() => prompting.mmu({ imageIds: [[210, 211, 212]], texts: [[1]] }), ImageTokenCountError);
  assert.throws(
    () => prompting.t2i({ texts: [[1]], imageIds: [[210, 211, 212, 213]], labels: [[-100]], condDropoutProb: 0 }),
    ImageTokenCountError,
  );
  assert.throws(() => prompting.t2iGen({ texts: [[1]], imageIds: [[0, 1, 2, 3]] }), InvalidArgumentError); // codes, not ids
  assert.throws(() => prompting.t2iGen({ texts: [[250]], imageIds: [[210, 211, 212, 213]] }), InvalidArgumentError); // not text
  assert.throws(() => prompting.t2iGen({ texts: [[1]], imageIds: [[210, 211, 212, 213]], taskToken: '<|nope|>' }), UnknownSpecialTokenError);
  assert.throws(() => prompting.t2iGen({ texts: [[1], [2]], imageIds: [[210, 211, 212, 213]] }), InvalidArgumentError);
  assert.throws(() => prompting.lm({ texts: [] }), InvalidArgumentError);
  assert.throws(() => prompting.t2iGen({ texts: ['a red circle'], imageIds: [[210, 211, 212, 213]] }), InvalidArgumentError); // no tokenizer
});

test('texts as strings go through the text tokenizer', () => {
  const { layout } = syntheticSetup();
  const tok = new WordTokenizer(buildWordVocabulary(['a red circle']));
  // The layout of a model on this tokenizer's text vocabulary.
  const l2 = new TokenLayout({ llmVocabSize: tok.vocabSize, codebookSize: 4, bosId: tok.bosId });
  const p2 = new UniversalPrompting(l2, { maxSeqLength: 8, numVqTokens: 4 }, tok);
  const img = l2.codesToIds([0, 1, 2, 3]);
  const byText = p2.t2iGen({ texts: ['a red circle'], imageIds: [img] });
  const byIds = p2.t2iGen({ texts: [tok.encode('a red circle')], imageIds: [img] });
  assert.deepEqual(byText, byIds);
  assert.throws(() => new UniversalPrompting(layout, { maxSeqLength: 8, numVqTokens: 4 }, tok), InvalidArgumentError); // sizes disagree
});

test('inpainting and extrapolation replace image tokens by [MASK]', () => {
  const { prompting, layout } = syntheticSetup();
  const img = [210, 211, 212, 213]; // 2×2 grid
  const M = layout.maskId;
  assert.deepEqual(maskImageRegion(img, [0, 1, 1, 0], M), [210, M, M, 213]);
  assert.throws(() => maskImageRegion(img, [1], M), InvalidArgumentError);
  const inp = prompting.inpainting({ texts: [[1]], imageIds: [img], regions: [[true, false, false, true]] });
  assert.equal(inp.task, 'inpainting');
  assert.deepEqual(inp.inputIds[0]!.slice(-6), [201, M, 211, 212, M, 202]);
  const grid = { height: 2, width: 2 };
  assert.deepEqual(shiftForExtrapolation(img, grid, 'right', 1, M), [211, M, 213, M]);
  assert.deepEqual(shiftForExtrapolation(img, grid, 'left', 1, M), [M, 210, M, 212]);
  assert.deepEqual(shiftForExtrapolation(img, grid, 'down', 1, M), [212, 213, M, M]);
  assert.deepEqual(shiftForExtrapolation(img, grid, 'up', 1, M), [M, M, 210, 211]);
  assert.throws(() => shiftForExtrapolation(img, { height: 3, width: 2 }, 'up', 1, M), InvalidArgumentError);
  assert.throws(() => shiftForExtrapolation(img, grid, 'up', 3, M), InvalidArgumentError);
  const ext = prompting.extrapolation({ texts: [[1]], imageIds: [img], grid, direction: 'right', shift: 1 });
  assert.deepEqual(ext.inputIds[0]!.slice(-6), [201, 211, M, 213, M, 202]);
});

test('interleaved sequences: any number of steps, labels when every image has them, right padding', () => {
  const { prompting, layout } = syntheticSetup();
  const a = [210, 211, 212, 213];
  const b = [214, 215, 216, 274];
  const la = [-100, -100, -100, -100];
  const lb = [-100, -100, -100, 217];
  const batch = prompting.interleaved({
    rows: [
      [{ text: [1, 2], imageIds: a, imageLabels: la }, { text: [3], imageIds: b, imageLabels: lb }, { text: [4] }],
      [{ text: [5], imageIds: a, imageLabels: la }],
    ],
  });
  const mtl = prompting.maxTextLen;
  const row0 = batch.inputIds[0]!;
  assert.equal(row0.length, mtl + 6 + 3 + 6 + 3);
  assert.deepEqual(row0.slice(mtl), [201, ...a, 202, 199, 3, 199, 201, ...b, 202, 199, 4, 199]);
  const row1 = batch.inputIds[1]!;
  assert.equal(row1.length, row0.length);
  assert.deepEqual(row1.slice(mtl + 6), new Array(12).fill(layout.padId));
  assert.deepEqual(batch.labels![0]!.slice(mtl), [201, ...la, 202, 199, 3, 199, 201, ...lb, 202, 199, 4, 199]);
  assert.deepEqual(batch.labels![1]!.slice(mtl + 6), new Array(12).fill(-100));
  // Without labels on some image: no labels at all.
  assert.equal(prompting.interleaved({ rows: [[{ text: [1], imageIds: a }]] }).labels, undefined);
  assert.throws(() => prompting.interleaved({ rows: [[{ text: [1] }]] }), InvalidArgumentError);
  assert.throws(() => prompting.interleaved({ rows: [[{ text: [1], imageIds: a }]], padTo: 5 }), PromptTooLongError);
});

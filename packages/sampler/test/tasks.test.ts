import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, SeededRandom } from '@showo/runtime';
import {
  ExtrapolationBudgetError,
  ImageSizeMismatchError,
  InvalidSamplingOptionError,
  InvalidStepsError,
  PromptBudgetError,
  UnknownScheduleError,
  edit,
  extrapolate,
  generateTokens,
  imageResult,
  inpaint,
  pixelMaskToTokenMask,
  textResult,
  textToImage,
  understand,
  type ImageGenerationEvent,
  type RgbImage,
} from '@showo/sampler';
import { lastValueFrom, toArray } from 'rxjs';
import { tinySetup, toyCodec } from './tiny.js';

const codesA = Int32Array.from({ length: 16 }, (_, i) => i % 16);
const codesB = Int32Array.from({ length: 16 }, (_, i) => (5 * i + 3) % 16);

test('inpainting regenerates exactly the masked tokens; pixel masks map to tokens by the rule', async () => {
  const t = await tinySetup();
  const before = tf.memory().numTensors;
  const tokenMask = Array.from({ length: 16 }, (_, i) => (i % 4 < 2 && i < 8 ? 1 : 0)); // top-left 2×2 tokens
  const deps = { model: t.model, prompting: t.prompting, codec: toyCodec };
  const result = await imageResult(inpaint(deps, { prompts: [[1, 2], [3]], images: [{ codes: codesA }, { codes: codesB }], masks: [{ tokens: tokenMask }, { tokens: tokenMask }], steps: 4, guidanceScale: 1, seed: 5 }));
  for (const [b, src] of [codesA, codesB].entries()) {
    for (let i = 0; i < 16; i++) if (!tokenMask[i]) assert.equal(result!.codes[b]![i], src[i], `kept token ${i}`);
  }
  // 8×8-pixel image, 2×2 patches: one masked pixel masks its token under 'any', not under 'most'.
  const pixels = new Uint8Array(64);
  pixels[0] = 1;
  pixels[2 * 8 + 2] = pixels[2 * 8 + 3] = pixels[3 * 8 + 2] = 1;
  const grid = { height: 4, width: 4 };
  assert.deepEqual(Array.from(pixelMaskToTokenMask({ width: 8, height: 8, data: pixels }, grid, 2)).slice(0, 6), [1, 0, 0, 0, 0, 1]);
  assert.deepEqual(Array.from(pixelMaskToTokenMask({ width: 8, height: 8, data: pixels }, grid, 2, 'most')).slice(0, 6), [0, 0, 0, 0, 0, 1]);
  // pixel images through the codec, with a pixel mask
  const image = (toyCodec.decode([codesA], grid) as RgbImage[])[0]!;
  const r2 = await imageResult(inpaint(deps, { prompts: [[1]], images: [{ image }], masks: [{ width: 8, height: 8, data: pixels }], steps: 3, seed: 1 }));
  assert.equal(r2!.codes[0]![15], codesA[15]);
  assert.equal(r2!.images![0]!.width, 8);
  assert.equal(tf.memory().numTensors, before);
  t.dispose();
});

test('mask-free editing keeps all but round(strength·N) tokens', async () => {
  const t = await tinySetup();
  const r = await imageResult(edit({ model: t.model, prompting: t.prompting }, { prompts: [[9, 9]], images: [{ codes: codesA }], strength: 0.25, steps: 4, seed: 2 }));
  const changedAtMost = Array.from(r!.codes[0]!).filter((c, i) => c !== codesA[i]).length;
  assert.ok(changedAtMost <= 4, `${changedAtMost} tokens changed`);
  t.dispose();
});

for (const direction of ['left', 'right', 'up', 'down'] as const) {
  test(`extrapolation ${direction}: the image grows, original tokens stay in place, every new token is generated`, async () => {
    const t = await tinySetup();
    const before = tf.memory().numTensors;
    const events = await lastValueFrom(
      extrapolate({ model: t.model, prompting: t.prompting }, { prompts: [[1, 2]], images: [{ codes: codesA }], direction, amount: 3, context: 2, steps: 3, seed: 4 }).pipe(toArray()),
    );
    const start = events[0] as Extract<ImageGenerationEvent, { type: 'start' }>;
    assert.equal(start.passes, 2, '3 new lines with 2 per window');
    const horizontal = direction === 'left' || direction === 'right';
    const grid = horizontal ? { height: 4, width: 7 } : { height: 7, width: 4 };
    assert.deepEqual(start.grid, grid);
    const done = events.at(-1)!;
    assert.equal(done.type, 'done');
    if (done.type !== 'done') return;
    const out = done.result.codes[0]!;
    const ox = direction === 'left' ? 3 : 0;
    const oy = direction === 'up' ? 3 : 0;
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) assert.equal(out[(i + oy) * grid.width + (j + ox)], codesA[i * 4 + j]);
    assert.ok(out.every((c) => c >= 0 && c < 16));
    const steps = events.filter((e) => e.type === 'step');
    assert.equal(steps.length, 6);
    assert.equal(tf.memory().numTensors, before);
    t.dispose();
  });
}

test('batched decoding with left padding equals one row at a time (greedy, KV cache and recompute)', async () => {
  const t = await tinySetup(7);
  const prompts = [[3, 4, 5, 6, 7], [8, 9]];
  for (const cache of ['auto', 'none'] as const) {
    const deps = { model: t.model, prompting: t.prompting, cache };
    const batch = await textResult(generateTokens(deps, { prompts, greedy: true, maxNewTokens: 5, stopIds: [] }));
    for (const [b, p] of prompts.entries()) {
      const single = await textResult(generateTokens(deps, { prompts: [p], greedy: true, maxNewTokens: 5, stopIds: [] }));
      assert.deepEqual(batch!.tokens[b], single!.tokens[0], `${cache} row ${b}`);
    }
    const images = [{ codes: codesA }, { codes: codesB }];
    const questions = [[1, 2, 3, 4], [5]];
    const mmuBatch = await textResult(understand(deps, { images, questions, greedy: true, maxNewTokens: 4, stopIds: [] }));
    for (let b = 0; b < 2; b++) {
      const single = await textResult(understand(deps, { images: [images[b]!], questions: [questions[b]!], greedy: true, maxNewTokens: 4, stopIds: [] }));
      assert.deepEqual(mmuBatch!.tokens[b], single!.tokens[0], `${cache} mmu row ${b}`);
    }
  }
  t.dispose();
});

test('stop ids end rows independently and are kept', async () => {
  const t = await tinySetup(3);
  const deps = { model: t.model, prompting: t.prompting };
  const free = await textResult(generateTokens(deps, { prompts: [[1, 2, 3]], greedy: true, maxNewTokens: 6, stopIds: [] }));
  const stopAt = free!.tokens[0]![2]!;
  const stopped = await textResult(generateTokens(deps, { prompts: [[1, 2, 3]], greedy: true, maxNewTokens: 6, stopIds: [stopAt] }));
  const k = free!.tokens[0]!.indexOf(stopAt);
  assert.deepEqual(stopped!.tokens[0], free!.tokens[0]!.slice(0, k + 1));
  assert.equal(stopped!.stopReasons[0], 'stop-token');
  t.dispose();
});

test('invalid requests throw typed errors before any work', async () => {
  const t = await tinySetup();
  const deps = { model: t.model, prompting: t.prompting, codec: toyCodec };
  const before = tf.memory().numTensors;
  const p = { prompts: [[1, 2]] };
  assert.throws(() => textToImage(deps, { ...p, steps: 0 }), InvalidStepsError);
  assert.throws(() => textToImage(deps, { ...p, steps: 1.5 }), InvalidStepsError);
  assert.throws(() => textToImage(deps, { ...p, schedule: 'exponential' }), UnknownScheduleError);
  assert.throws(() => textToImage(deps, { ...p, guidanceScale: -1 }), InvalidSamplingOptionError);
  assert.throws(() => textToImage(deps, { ...p, temperature: -0.5 }), InvalidSamplingOptionError);
  // text budget: <|t2i|> BOS text EOS must fit MSL+1 = 9
  assert.throws(() => textToImage(deps, { prompts: [[1, 2, 3, 4, 5, 6, 7]] }), PromptBudgetError);
  assert.doesNotThrow(() => textToImage(deps, { prompts: [[1, 2, 3, 4, 5, 6, 7]], truncatePrompts: true }));
  // position budget of the model
  assert.throws(() => textToImage({ ...deps, maxPositions: 20 }, p), PromptBudgetError);
  assert.throws(() => understand(deps, { images: [{ codes: codesA }], questions: [[1, 2, 3, 4, 5, 6, 7, 8]] }), PromptBudgetError);
  assert.throws(() => understand(deps, { images: [{ codes: codesA }], questions: [[1]], maxNewTokens: 60 }), PromptBudgetError);
  // sizes
  const tokenMask = { tokens: new Array(16).fill(0) };
  assert.throws(() => inpaint(deps, { ...p, images: [{ codes: codesA.slice(0, 9) }], masks: [tokenMask] }), ImageSizeMismatchError);
  assert.throws(() => inpaint(deps, { ...p, images: [{ codes: codesA }], masks: [{ tokens: [1, 0] }] }), ImageSizeMismatchError);
  assert.throws(() => inpaint(deps, { ...p, images: [{ codes: codesA }], masks: [{ width: 6, height: 8, data: new Uint8Array(48) }] }), ImageSizeMismatchError);
  assert.throws(() => inpaint(deps, { ...p, images: [{ image: { width: 6, height: 6, data: new Uint8Array(108) } }], masks: [tokenMask] }), ImageSizeMismatchError);
  assert.throws(() => inpaint(deps, { ...p, images: [{ codes: codesA.map(() => 99) }], masks: [tokenMask] }), InvalidArgumentError);
  assert.throws(() => textToImage({ ...deps, grid: { height: 3, width: 5 } }, p), ImageSizeMismatchError);
  // extrapolation budget
  const img = [{ codes: codesA }];
  assert.throws(() => extrapolate(deps, { ...p, images: img, direction: 'right', amount: 0 }), ExtrapolationBudgetError);
  assert.throws(() => extrapolate(deps, { ...p, images: img, direction: 'right', amount: 2, context: 4 }), ExtrapolationBudgetError);
  assert.throws(() => extrapolate(deps, { ...p, images: img, direction: 'up', amount: 13 }), ExtrapolationBudgetError);
  assert.throws(() => extrapolate(deps, { ...p, images: img, direction: 'sideways' as 'up', amount: 1 }), InvalidSamplingOptionError);
  assert.throws(() => edit(deps, { ...p, images: img, strength: 0 }), InvalidSamplingOptionError);
  assert.equal(t.model.calls, 0);
  assert.equal(tf.memory().numTensors, before);
  t.dispose();
});

test('the same seed gives the same image; the scheduler draws 2·B·N uniforms per step', async () => {
  const t = await tinySetup();
  const deps = { model: t.model, prompting: t.prompting };
  const a = await imageResult(textToImage(deps, { prompts: [[1]], steps: 3, seed: 11 }));
  const b = await imageResult(textToImage(deps, { prompts: [[1]], steps: 3, seed: 11 }));
  assert.deepEqual(a, b);
  const src = new SeededRandom(0);
  let count = 0;
  const counting = { next: () => (count++, src.next()) };
  await imageResult(textToImage(deps, { prompts: [[1], [2]], steps: 3, uniforms: counting }));
  assert.equal(count, 3 * 2 * 2 * 16);
  t.dispose();
});


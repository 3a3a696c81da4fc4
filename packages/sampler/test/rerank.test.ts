/** scoreTexts (caption likelihood under the understanding layout) and best-of-N text-to-image reranking. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createAttentionMaskForMmu } from '@showo/omni-attention';
import { ImageSizeMismatchError, InvalidSamplingOptionError, PromptBudgetError, scoreTexts, textToImage, type ImageGenerationEvent } from '@showo/sampler';
import { lastValueFrom, toArray } from 'rxjs';
import { BOS, ticks, tinySetup, toyCodec } from './tiny.js';

const codesA = Int32Array.from({ length: 16 }, (_, i) => i % 16);
const codesB = Int32Array.from({ length: 16 }, (_, i) => (5 * i + 3) % 16);

/** Σ log p over `text EOS` from one full forward of `<|mmu|> <|soi|> image <|eoi|> BOS text EOS` (no session). */
function directScore(t: Awaited<ReturnType<typeof tinySetup>>, codes: Int32Array, text: number[]): number {
  const L = t.layout;
  const target = [...text, L.eosId];
  const ids = [L.special('<|mmu|>'), L.special('<|soi|>'), ...L.codesToIds(codes), L.special('<|eoi|>'), BOS, ...target];
  const allow = createAttentionMaskForMmu([ids], { eoiId: L.special('<|eoi|>') });
  return tf.tidy(() => {
    const logp = tf.logSoftmax(t.inner.forward(tf.tensor2d([ids], [1, ids.length], 'int32'), allow)).arraySync() as number[][][];
    const first = ids.length - target.length; // position of the first scored token
    return target.reduce((sum, tok, j) => sum + logp[0]![first + j - 1]![tok]!, 0);
  });
}

test('scoreTexts equals the log-likelihood of a full forward pass, with and without the KV cache, and frees its tensors', async () => {
  const t = await tinySetup(4);
  const texts = [[3, 4, 5], [7]];
  const expected = [directScore(t, codesA, texts[0]!), directScore(t, codesB, texts[1]!)];
  for (const cache of ['auto', 'none'] as const) {
    const before = tf.memory().numTensors;
    const s = await scoreTexts({ model: t.model, prompting: t.prompting, cache }, { images: [{ codes: codesA }, { codes: codesB }], texts });
    assert.equal(tf.memory().numTensors, before, `${cache}: tensors left behind`);
    assert.deepEqual(s.tokens, [4, 2]);
    s.logProbs.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-4, `${cache} row ${i}: ${v} vs ${expected[i]}`));
  }
  // Images as pixels go through the codec.
  const image = (await toyCodec.decode([codesA], { height: 4, width: 4 }))[0]!;
  const viaPixels = await scoreTexts({ model: t.model, prompting: t.prompting, codec: toyCodec }, { images: [{ image }], texts: [texts[0]!] });
  assert.ok(Math.abs(viaPixels.logProbs[0]! - expected[0]!) < 1e-4);
  await assert.rejects(scoreTexts({ model: t.model, prompting: t.prompting }, { images: [{ codes: codesA }], texts }), ImageSizeMismatchError);
  await assert.rejects(scoreTexts({ model: t.model, prompting: t.prompting }, { images: [{ codes: codesA }], texts: [[1, 2, 3, 4, 5, 6, 7]] }), PromptBudgetError);
  t.dispose();
});

test('rerank: N candidates per prompt in one batch, the likeliest caption kept, every tensor freed', async () => {
  const t = await tinySetup(5);
  const deps = { model: t.model, prompting: t.prompting, codec: toyCodec };
  const prompts = [[3, 4], [6, 7, 8]];
  const before = tf.memory().numTensors;
  const events = await lastValueFrom(textToImage(deps, { prompts, rerank: 3, steps: 3, guidanceScale: 1, seed: 11 }).pipe(toArray()));
  assert.equal(tf.memory().numTensors, before);
  const start = events[0] as Extract<ImageGenerationEvent, { type: 'start' }>;
  assert.equal(start.batch, 2);
  assert.equal(start.candidates, 3);
  const steps = events.filter((e) => e.type === 'step');
  assert.equal(steps.length, 3);
  assert.equal((steps[0] as Extract<ImageGenerationEvent, { type: 'step' }>).tokens.length, 6, 'step events carry every candidate');
  const rerank = events.find((e) => e.type === 'rerank') as Extract<ImageGenerationEvent, { type: 'rerank' }>;
  const done = events.at(-1) as Extract<ImageGenerationEvent, { type: 'done' }>;
  assert.equal(done.type, 'done');
  assert.deepEqual(done.result.rerank, { scores: rerank.scores, chosen: rerank.chosen });
  for (let p = 0; p < 2; p++) {
    const cands = rerank.candidates[p]!;
    assert.equal(cands.length, 3);
    const own = await scoreTexts(deps, { images: cands.map((codes) => ({ codes })), texts: cands.map(() => prompts[p]!) });
    own.logProbs.forEach((v, c) => assert.ok(Math.abs(v - rerank.scores[p]![c]!) < 1e-4, `prompt ${p} candidate ${c}`));
    assert.equal(rerank.chosen[p], own.logProbs.indexOf(Math.max(...own.logProbs)));
    assert.deepEqual(Array.from(done.result.codes[p]!), Array.from(cands[rerank.chosen[p]!]!));
  }
  assert.equal(done.result.images?.length, 2);
  // The same request without reranking is the official single-candidate path (no rerank fields).
  const plain = events.length && (await lastValueFrom(textToImage(deps, { prompts, steps: 3, guidanceScale: 1, seed: 11 }).pipe(toArray())));
  assert.equal((plain as ImageGenerationEvent[]).find((e) => e.type === 'rerank'), undefined);
  assert.throws(() => textToImage(deps, { prompts, rerank: 0 }), InvalidSamplingOptionError);
  assert.throws(() => textToImage(deps, { prompts, rerank: 1.5 }), InvalidSamplingOptionError);
  t.dispose();
});

test('rerank: unsubscribing mid-generation stops it and frees every tensor', async () => {
  const t = await tinySetup(6);
  const before = tf.memory().numTensors;
  let steps = 0;
  const sub = textToImage({ model: t.model, prompting: t.prompting }, { prompts: [[3, 4]], rerank: 3, steps: 6, guidanceScale: 1, seed: 2 }).subscribe((e) => {
    if (e.type === 'step' && ++steps === 2) sub.unsubscribe();
  });
  await ticks(10);
  assert.equal(steps, 2, 'no step after unsubscribing');
  assert.equal(tf.memory().numTensors, before);
  t.dispose();
});

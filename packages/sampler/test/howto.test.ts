import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { lastValueFrom, take, toArray } from 'rxjs';
import { InvalidArgumentError } from '@showo/runtime';
import type { AllowMask } from '@showo/omni-attention';
import {
  InvalidSamplingOptionError,
  PromptBudgetError,
  howto,
  howtoResult,
  type HowtoEvent,
  type LogitsRange,
  type SequenceLogitsModel,
} from '@showo/sampler';
import { BOS, TINY, tinySetup, ticks, toyCodec } from './tiny.js';

const QUESTION = [1, 2, 3];
const STEPS = [[4, 5], [6, 7, 8]];
const SOI = 51; // llm 50: [PAD] 50, <|soi|> 51, <|eoi|> 52, <|t2i|> 55; codes from 60
const EOI = 52;
const T2I = 55;
const OFFSET = 60;

function ofType<T extends HowtoEvent['type']>(events: HowtoEvent[], type: T): Extract<HowtoEvent, { type: T }>[] {
  return events.filter((e): e is Extract<HowtoEvent, { type: T }> => e.type === type);
}

test('guided how-to: text then keyframe per step, each keyframe conditioned on the whole interleaved sequence', async () => {
  const t = await tinySetup();
  const before = tf.memory().numTensors;
  const deps = { model: t.model, prompting: t.prompting, codec: toyCodec, maxPositions: 256 };
  const events = await lastValueFrom(howto(deps, { question: QUESTION, stepTexts: STEPS, steps: 3, guidanceScale: 1.5, seed: 4, preview: true }).pipe(toArray()));
  assert.deepEqual(
    events.map((e) => (e.type === 'start' || e.type === 'done' ? e.type : `${e.type}@${e.step}`)),
    ['start', 'step-start@0', 'text@0', 'denoise@0', 'denoise@0', 'denoise@0', 'keyframe@0', 'step-start@1', 'text@1', 'denoise@1', 'denoise@1', 'denoise@1', 'keyframe@1', 'done'],
  );
  const start = events[0]!;
  assert.ok(start.type === 'start' && start.mode === 'guided' && start.plannedSteps === 2 && start.cached);
  assert.deepEqual(ofType(events, 'denoise').map((e) => e.denoise), [0, 1, 2, 0, 1, 2]);
  assert.ok(ofType(events, 'denoise').every((e) => e.preview?.width === 8));
  const done = events.at(-1)!;
  assert.ok(done.type === 'done');
  const r = done.result;
  assert.equal(r.stopReason, 'guided');
  assert.deepEqual(r.steps.map((s) => s.tokens), STEPS);
  assert.ok(r.steps.every((s) => s.given && s.codes.length === 16 && s.codes.every((c) => c >= 0 && c < 16) && s.image?.width === 8));
  // The sequence is the trainer's layout: [PAD]* <|t2i|> BOS q s1 EOS | soi kf1 eoi | BOS s2 EOS | soi kf2 eoi.
  const mtl = t.prompting.maxTextLen;
  const first = [T2I, BOS, ...QUESTION, ...STEPS[0]!, BOS];
  assert.deepEqual(r.sequence.slice(0, mtl), [...new Array(mtl - first.length).fill(50), ...first]);
  const kf = (k: number) => Array.from(r.steps[k]!.codes, (c) => c + OFFSET);
  assert.deepEqual(r.sequence.slice(mtl), [SOI, ...kf(0), EOI, BOS, ...STEPS[1]!, BOS, SOI, ...kf(1), EOI]);
  assert.equal(tf.memory().numTensors, before);

  // The growing KV cache gives the same keyframes as recomputing the whole sequence every step.
  const plain = await howtoResult(howto({ ...deps, cache: 'none' }, { question: QUESTION, stepTexts: STEPS, steps: 3, guidanceScale: 1.5, seed: 4 }));
  assert.deepEqual(plain!.steps.map((s) => [...s.codes]), r.steps.map((s) => [...s.codes]));
  assert.equal(tf.memory().numTensors, before);
  t.dispose();
});

test('free how-to on a random model: streamed text tokens (text ids only) with their step index, then keyframes', async () => {
  const t = await tinySetup(2);
  const before = tf.memory().numTensors;
  const deps = { model: t.model, prompting: t.prompting, maxPositions: 256 };
  const request = { question: QUESTION, steps: 2, maxSteps: 2, maxStepTokens: 4, text: { temperature: 1.0 }, seed: 7 };
  const events = await lastValueFrom(howto(deps, request).pipe(toArray()));
  const tokens = ofType(events, 'token');
  assert.ok(tokens.length > 0);
  assert.ok(tokens.every((e) => e.token < TINY.llm_vocab_size && (e.step === 0 || e.step === 1)));
  const done = events.at(-1)!;
  assert.ok(done.type === 'done');
  assert.ok(done.result.mode === 'free' && done.result.steps.length >= 1);
  if (done.result.steps.length === 2) assert.equal(done.result.stopReason, 'max-steps');
  // Every step's token events spell out its text.
  done.result.steps.forEach((s, k) => {
    const own = tokens.filter((e) => e.step === k);
    assert.deepEqual(own.map((e) => e.token), s.tokens);
    assert.deepEqual(ofType(events, 'text').find((e) => e.step === k)!.tokens, s.tokens);
  });
  assert.equal(tf.memory().numTensors, before);
  // Same seed, no cache: same text and keyframes.
  const plain = await howtoResult(howto({ ...deps, cache: 'none' }, request));
  assert.deepEqual(plain!.steps.map((s) => [s.tokens, [...s.codes]]), done.result.steps.map((s) => [s.tokens, [...s.codes]]));
  assert.equal(tf.memory().numTensors, before);
  t.dispose();
});

/**
 * A scripted model: after the question it writes token 20, after a keyframe's BOS it writes 10 — or EOS once two
 * keyframes exist — and an image code 3 everywhere in images. Image id 60 always has the highest logit at text
 * positions, so the pipeline must restrict step texts to text ids.
 */
class ScriptedModel implements SequenceLogitsModel {
  calls = 0;
  forward(ids: tf.Tensor, _allow: AllowMask, options?: { logits?: LogitsRange }): tf.Tensor3D {
    this.calls++;
    const [b, l] = ids.shape as [number, number];
    const v = TINY.vocab_size;
    const seq = ids.dataSync();
    const out = new Float32Array(b * l * v);
    for (let r = 0; r < b; r++) {
      let eois = 0;
      for (let i = 0; i < l; i++) {
        const id = seq[r * l + i]!;
        const prev = i > 0 ? seq[r * l + i - 1]! : -1;
        if (id === EOI) eois++;
        const row = (r * l + i) * v;
        out[row + OFFSET] = 10; // the banned favourite
        let next: number;
        if (id === BOS && prev === EOI) next = eois >= 2 ? BOS : 10;
        else if (id === 20 || id === 10) next = BOS; // EOS = BOS = 49
        else next = 20;
        out[row + next] = 8;
        out[row + OFFSET + 3] = 30; // image positions: code 3 (text positions still prefer 60 > code 3? no: banned anyway)
      }
    }
    const all = tf.tensor3d(out, [b, l, v]);
    const sel = options?.logits;
    if (sel === 'last') {
      const last = tf.slice(all, [0, l - 1, 0], [b, 1, v]);
      all.dispose();
      return last as tf.Tensor3D;
    }
    return all;
  }
}

test('free how-to ends when the model answers EOS right after a new step’s BOS (scripted model)', async () => {
  const t = await tinySetup();
  const before = tf.memory().numTensors;
  const model = new ScriptedModel();
  const events = await lastValueFrom(howto({ model, prompting: t.prompting, maxPositions: 256 }, { question: QUESTION, steps: 2, maxSteps: 5, seed: 1 }).pipe(toArray()));
  const done = events.at(-1)!;
  assert.ok(done.type === 'done');
  const r = done.result;
  assert.equal(r.stopReason, 'end-token');
  assert.deepEqual(r.steps.map((s) => s.tokens), [[20], [10]]);
  assert.ok(r.steps.every((s) => s.codes.every((c) => c === 3)));
  const kf = new Array(16).fill(OFFSET + 3);
  assert.deepEqual(r.sequence, [T2I, BOS, ...QUESTION, 20, BOS, SOI, ...kf, EOI, BOS, 10, BOS, SOI, ...kf, EOI, BOS, BOS]);
  assert.deepEqual(
    ofType(events, 'token').map((e) => [e.step, e.token]),
    [[0, 20], [1, 10]],
  );
  assert.equal(tf.memory().numTensors, before);
  t.dispose();
});

test('how-to cancellation mid-sequence (unsubscribe, abort) and errors free every tensor', async () => {
  const t = await tinySetup();
  const before = tf.memory().numTensors;
  const deps = { model: t.model, prompting: t.prompting, maxPositions: 256 };
  const request = { question: QUESTION, stepTexts: STEPS, steps: 6, guidanceScale: 1, seed: 2 };

  // Unsubscribe during the second keyframe's denoising: no model call afterwards, caches freed.
  let denoise = 0;
  const sub = howto(deps, request).subscribe((e) => {
    if (e.type === 'denoise' && e.step === 1 && ++denoise === 2) sub.unsubscribe();
  });
  await ticks(40);
  const callsAtStop = t.model.calls;
  assert.equal(denoise, 2);
  await ticks(10);
  assert.equal(t.model.calls, callsAtStop, 'no model call after unsubscribe');
  assert.equal(tf.memory().numTensors, before);

  // Free mode: unsubscribe after the first streamed token (take completes the stream).
  const first = await lastValueFrom(howto(deps, { question: QUESTION, steps: 3, maxStepTokens: 4, text: { temperature: 1 }, seed: 3 }).pipe(take(3), toArray()));
  assert.deepEqual(first.map((e) => e.type), ['start', 'step-start', 'token']);
  await ticks(10);
  assert.equal(tf.memory().numTensors, before);

  // Abort while parked between denoising steps of keyframe 1: completes, frees synchronously.
  const controller = new AbortController();
  const seen: HowtoEvent[] = [];
  const finished = new Promise<string>((resolve, reject) =>
    howto(deps, { ...request, signal: controller.signal }).subscribe({ next: (e) => seen.push(e), complete: () => resolve('complete'), error: reject }),
  );
  while (!seen.some((e) => e.type === 'keyframe')) await ticks(1);
  await ticks(2);
  controller.abort();
  assert.equal(tf.memory().numTensors, before);
  assert.equal(await finished, 'complete');
  assert.ok(!seen.some((e) => e.type === 'done'));
  await ticks(5);
  assert.equal(tf.memory().numTensors, before);

  // An already-aborted signal: nothing runs.
  const calls = t.model.calls;
  assert.deepEqual(await lastValueFrom(howto(deps, { ...request, signal: AbortSignal.abort() }).pipe(toArray())), []);
  assert.equal(t.model.calls, calls);

  // A model failure in the middle (during keyframe 2) reaches the subscriber; everything is freed.
  t.model.failAt = t.model.calls + 10;
  await assert.rejects(lastValueFrom(howto(deps, request)), /model failure/);
  await ticks(3);
  assert.equal(tf.memory().numTensors, before);
  t.model.failAt = undefined;
  t.dispose();
});

test('how-to validates synchronously with typed errors', async () => {
  const t = await tinySetup();
  const deps = { model: t.model, prompting: t.prompting, maxPositions: 256 };
  assert.throws(() => howto(deps, { question: QUESTION, stepTexts: [] }), InvalidArgumentError);
  assert.throws(() => howto(deps, { question: [], stepTexts: STEPS }), InvalidArgumentError);
  assert.throws(() => howto(deps, { question: QUESTION, maxSteps: 0 }), InvalidSamplingOptionError);
  // Guided: the whole sequence must fit the position budget (64 for the tiny config).
  assert.throws(() => howto({ model: t.model, prompting: t.prompting }, { question: QUESTION, stepTexts: [...STEPS, [9], [9]] }), PromptBudgetError);
  // Free: the question must leave room for step 1 in the text block (max_text_len 9).
  assert.throws(() => howto(deps, { question: [1, 2, 3, 4, 5, 6] }), PromptBudgetError);
  assert.equal(t.model.calls, 0);
  t.dispose();
});

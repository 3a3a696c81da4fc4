import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { lastValueFrom, take, toArray } from 'rxjs';
import { textToImage, understand, type ImageGenerationEvent, type TextGenerationEvent } from '@showo/sampler';
import { tinySetup, ticks, toyCodec } from './tiny.js';

const PROMPTS = [[1, 2, 3], [4, 5]];

for (const cache of ['auto', 'none'] as const) {
  test(`t2i (${cache}): cold, completes, and leaves no tensors behind`, async () => {
    const t = await tinySetup();
    const before = tf.memory().numTensors;
    const stream = textToImage({ model: t.model, prompting: t.prompting, cache, codec: toyCodec }, { prompts: PROMPTS, steps: 4, guidanceScale: 1.5, seed: 3, preview: true });
    await ticks();
    assert.equal(t.model.calls, 0, 'nothing runs before subscription');
    const events = await lastValueFrom(stream.pipe(toArray()));
    assert.deepEqual(
      events.map((e) => e.type),
      ['start', 'step', 'step', 'step', 'step', 'done'],
    );
    const steps = events.filter((e): e is Extract<ImageGenerationEvent, { type: 'step' }> => e.type === 'step');
    assert.deepEqual(steps.map((s) => s.step), [0, 1, 2, 3]);
    assert.ok(steps.every((s) => s.preview?.length === 2 && s.preview[0]!.width === 8));
    assert.deepEqual(steps.at(-1)!.numMasked, [1, 1], 'the official loop leaves one token masked after the last step');
    const done = events.at(-1)!;
    assert.ok(done.type === 'done' && done.result.codes.every((c) => c.every((x) => x >= 0 && x < 16)) && done.result.images?.length === 2);
    assert.equal(tf.memory().numTensors, before);
    t.dispose();
  });

  test(`t2i (${cache}): unsubscribing stops within one step and frees every tensor`, async () => {
    const t = await tinySetup();
    const before = tf.memory().numTensors;
    let steps = 0;
    const sub = textToImage({ model: t.model, prompting: t.prompting, cache }, { prompts: PROMPTS, steps: 10, guidanceScale: 2, seed: 1 }).subscribe((e) => {
      if (e.type === 'step' && ++steps === 2) sub.unsubscribe();
    });
    await ticks(5);
    const callsAtStop = t.model.calls;
    await ticks(5);
    assert.equal(steps, 2);
    assert.equal(t.model.calls, callsAtStop, 'no model call after unsubscribe');
    assert.equal(tf.memory().numTensors, before);
    t.dispose();
  });

  test(`t2i (${cache}): an AbortSignal stops the stream (completes) and frees every tensor`, async () => {
    const t = await tinySetup();
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const seen: string[] = [];
    const finished = new Promise<string>((resolve, reject) =>
      textToImage({ model: t.model, prompting: t.prompting, cache }, { prompts: PROMPTS, steps: 10, seed: 1, signal: controller.signal }).subscribe({
        next: (e) => {
          seen.push(e.type);
          if (e.type === 'step' && e.step === 2) controller.abort();
        },
        complete: () => resolve('complete'),
        error: reject,
      }),
    );
    assert.equal(await finished, 'complete');
    await ticks();
    assert.deepEqual(seen, ['start', 'step', 'step', 'step']);
    assert.equal(tf.memory().numTensors, before);
    // Aborting while parked between steps (no event handler on the stack) also frees everything.
    const c2 = new AbortController();
    const p2 = lastValueFrom(textToImage({ model: t.model, prompting: t.prompting, cache }, { prompts: PROMPTS, steps: 50, seed: 1, signal: c2.signal }).pipe(toArray()));
    await ticks(4);
    c2.abort();
    // Parked between steps: the teardown frees the prefix cache synchronously.
    assert.equal(tf.memory().numTensors, before);
    const events2 = await p2;
    assert.ok(events2.length < 10 && !events2.some((e) => e.type === 'done'));
    await ticks();
    assert.equal(tf.memory().numTensors, before);
    // An already-aborted signal: nothing runs.
    const calls = t.model.calls;
    const none = await lastValueFrom(textToImage({ model: t.model, prompting: t.prompting, cache }, { prompts: PROMPTS, steps: 3, signal: AbortSignal.abort() }).pipe(toArray()));
    assert.deepEqual(none, []);
    assert.equal(t.model.calls, calls);
    t.dispose();
  });

  test(`t2i (${cache}): a model error mid-generation reaches the subscriber and frees every tensor`, async () => {
    const t = await tinySetup();
    const before = tf.memory().numTensors;
    t.model.failAt = 3;
    await assert.rejects(lastValueFrom(textToImage({ model: t.model, prompting: t.prompting, cache }, { prompts: PROMPTS, steps: 6, guidanceScale: 1, seed: 1 })), /model failure at call 3/);
    await ticks();
    assert.equal(tf.memory().numTensors, before);
    t.dispose();
  });

  test(`mmu (${cache}): token events, cancel and error leave no tensors`, async () => {
    const t = await tinySetup();
    const before = tf.memory().numTensors;
    const request = { images: [{ codes: Array.from({ length: 16 }, (_, i) => i) }], questions: [[7, 8, 9]], maxNewTokens: 6, stopIds: [], seed: 2 };
    const events = await lastValueFrom(understand({ model: t.model, prompting: t.prompting, cache }, request).pipe(toArray()));
    const tokens = events.filter((e): e is Extract<TextGenerationEvent, { type: 'token' }> => e.type === 'token');
    assert.equal(tokens.length, 6);
    assert.deepEqual(tokens.at(-1)!.tokens, tokens.map((e) => e.token));
    assert.equal(tokens.at(-1)!.stop, 'max-tokens');
    assert.equal(tf.memory().numTensors, before);
    // unsubscribe after 2 tokens (take completes the stream and unsubscribes the source)
    const calls0 = t.model.calls;
    const firstTwo = await lastValueFrom(understand({ model: t.model, prompting: t.prompting, cache }, { ...request, maxNewTokens: 30 }).pipe(take(3), toArray()));
    assert.deepEqual(firstTwo.map((e) => e.type), ['start', 'token', 'token']);
    await ticks(5);
    assert.ok(t.model.calls - calls0 <= 3, `stopped within one step (${t.model.calls - calls0} calls)`);
    assert.equal(tf.memory().numTensors, before);
    t.model.failAt = t.model.calls + 3;
    await assert.rejects(lastValueFrom(understand({ model: t.model, prompting: t.prompting, cache }, request)), /model failure/);
    await ticks();
    assert.equal(tf.memory().numTensors, before);
    t.dispose();
  });
}

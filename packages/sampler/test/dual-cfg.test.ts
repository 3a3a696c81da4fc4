/**
 * Classifier-free guidance on two engines (withDualEngine): the same codes as the single-engine prefix cache, no
 * tensor left behind on either thread (completion, unsubscribe, abort, error), typed errors when the worker fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { lastValueFrom, toArray } from 'rxjs';
import { DualEngine, WorkerError } from '@showo/runtime';
import { createShowoEngine } from '@showo/showo-core';
import { edit, textToImage, withDualEngine, type ImageGenerationEvent, type ImageModel, type ImageResult } from '@showo/sampler';
import { TINY, tinySetup, ticks } from './tiny.js';

const PROMPTS = [[1, 2, 3], [4, 5]];
let t: Awaited<ReturnType<typeof tinySetup>>;
let engine: DualEngine;

before(async () => {
  t = await tinySetup(4);
  engine = await createShowoEngine(t.inner, { workers: 2 });
});

after(async () => {
  await engine?.dispose();
  t?.dispose();
});

async function run(model: ImageModel, request: Partial<Parameters<typeof textToImage>[1]> = {}): Promise<{ result: ImageResult; events: ImageGenerationEvent[] }> {
  const events = await lastValueFrom(textToImage({ model, prompting: t.prompting }, { prompts: PROMPTS, steps: 6, guidanceScale: 2, seed: 3, ...request }).pipe(toArray()));
  const done = events.at(-1)!;
  assert.ok(done.type === 'done');
  return { result: done.result, events };
}

async function workerTensors(e: DualEngine = engine): Promise<number> {
  return (await e.workerMemory())!.numTensors;
}

/**
 * Lets a cancelled generation finish the step in flight (it waits for the worker's reply, then stops at its next
 * check) and the worker process everything sent so far (messages are handled in order).
 */
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    await ticks(3);
    await engine.workerMemory();
  }
};

test('t2i with guidance: the dual engine gives the very codes of the single-engine prefix cache', async () => {
  const single = await run(t.inner);
  const before = tf.memory().numTensors;
  const workerBefore = await workerTensors();
  const dual = await run(withDualEngine(t.inner, engine));
  assert.deepEqual(dual.result.codes, single.result.codes);
  const start = dual.events[0]!;
  assert.ok(start.type === 'start' && start.cached);
  assert.equal(tf.memory().numTensors, before, 'main thread');
  await settle();
  assert.equal(await workerTensors(), workerBefore, 'worker');
  // Another seed, guidance scale and batch: still identical.
  const a = await run(t.inner, { prompts: [[7, 8, 9, 1]], seed: 9, guidanceScale: 5, steps: 4 });
  const b = await run(withDualEngine(t.inner, engine), { prompts: [[7, 8, 9, 1]], seed: 9, guidanceScale: 5, steps: 4 });
  assert.deepEqual(b.result.codes, a.result.codes);
});

test('other MaskGIT tasks (edit) with guidance are identical too; without guidance the main thread serves alone', async () => {
  const dual = withDualEngine(t.inner, engine);
  const request = { prompts: [[3, 4]], images: [{ codes: Array.from({ length: 16 }, (_, i) => i % 16) }], strength: 0.5, steps: 3, guidanceScale: 1.5, seed: 2 };
  const [one] = await lastValueFrom(edit({ model: t.inner, prompting: t.prompting }, request).pipe(toArray())).then((e) => e.filter((x) => x.type === 'done'));
  const [two] = await lastValueFrom(edit({ model: dual, prompting: t.prompting }, request).pipe(toArray())).then((e) => e.filter((x) => x.type === 'done'));
  assert.ok(one?.type === 'done' && two?.type === 'done');
  assert.deepEqual(two.result.codes, one.result.codes);
  // No guidance: a one-worker engine that must not be called at all.
  const unused = await DualEngine.create({ module: new URL('./failing-engine.ts', import.meta.url), workers: 1 });
  const calls = t.model.calls;
  const plain = await run(t.model, { guidanceScale: 0 });
  const viaDual = await run(withDualEngine(t.model, unused), { guidanceScale: 0 });
  assert.deepEqual(viaDual.result.codes, plain.result.codes);
  assert.equal(t.model.calls - calls, 2 * (1 + 6), 'prefill + one call per step, on the main thread, both times');
  await unused.dispose();
});

test('a one-worker engine (both halves on the main thread) and a lazily created engine give the same codes', async () => {
  const single = await run(t.inner);
  const local = await createShowoEngine(t.inner, { workers: 1 });
  const before = tf.memory().numTensors;
  assert.deepEqual((await run(withDualEngine(t.inner, local))).result.codes, single.result.codes);
  assert.equal(tf.memory().numTensors, before);
  let made = 0;
  const lazy = withDualEngine(t.inner, async () => {
    made++;
    return engine;
  });
  assert.deepEqual((await run(lazy)).result.codes, single.result.codes);
  assert.equal(made, 1);
  await local.dispose();
});

test('concurrent generations on one engine keep their own caches', async () => {
  const dual = withDualEngine(t.inner, engine);
  const a = await run(t.inner, { seed: 5 });
  const b = await run(t.inner, { prompts: [[9, 9, 2]], seed: 6, steps: 5 });
  const before = tf.memory().numTensors;
  const [x, y] = await Promise.all([run(dual, { seed: 5 }), run(dual, { prompts: [[9, 9, 2]], seed: 6, steps: 5 })]);
  assert.deepEqual(x.result.codes, a.result.codes);
  assert.deepEqual(y.result.codes, b.result.codes);
  assert.equal(tf.memory().numTensors, before);
});

test('unsubscribing mid-generation and aborting free every tensor on both threads', async () => {
  const dual = withDualEngine(t.inner, engine);
  const before = tf.memory().numTensors;
  const workerBefore = await workerTensors();
  let steps = 0;
  await new Promise<void>((resolve) => {
    const sub = textToImage({ model: dual, prompting: t.prompting }, { prompts: PROMPTS, steps: 12, guidanceScale: 2, seed: 1 }).subscribe((e) => {
      if (e.type === 'step' && ++steps === 2) {
        sub.unsubscribe();
        resolve();
      }
    });
  });
  await settle();
  assert.equal(steps, 2);
  assert.equal(tf.memory().numTensors, before, 'main thread after unsubscribe');
  assert.equal(await workerTensors(), workerBefore, 'worker after unsubscribe');

  const controller = new AbortController();
  const events = await lastValueFrom(
    textToImage({ model: dual, prompting: t.prompting }, { prompts: PROMPTS, steps: 12, guidanceScale: 2, seed: 1, signal: controller.signal }).pipe(toArray()),
    { defaultValue: [] },
  ).catch((e) => assert.fail(e));
  assert.equal(events.length, 14, 'not aborted: all events');
  const c2 = new AbortController();
  const p2 = lastValueFrom(textToImage({ model: dual, prompting: t.prompting }, { prompts: PROMPTS, steps: 50, guidanceScale: 2, seed: 1, signal: c2.signal }).pipe(toArray()));
  await ticks(6);
  c2.abort();
  const partial = await p2;
  assert.ok(!partial.some((e) => e.type === 'done'));
  await settle();
  assert.equal(tf.memory().numTensors, before, 'main thread after abort');
  assert.equal(await workerTensors(), workerBefore, 'worker after abort');
});

for (const failMode of ['throw', 'exit'] as const) {
  test(`a worker that fails (${failMode}) mid-generation: a WorkerError reaches the subscriber, no tensor is left`, async () => {
    const broken = await DualEngine.create({ module: new URL('./failing-engine.ts', import.meta.url), workers: 2 });
    await broken.setWeights(Object.fromEntries(t.inner.namedVariables()));
    const workerBefore = await workerTensors(broken);
    const before = tf.memory().numTensors;
    const dual = withDualEngine(t.inner, broken, { engineOptions: { config: TINY, failAt: 3, failMode } });
    const seen: string[] = [];
    await assert.rejects(
      lastValueFrom(textToImage({ model: dual, prompting: t.prompting }, { prompts: PROMPTS, steps: 6, guidanceScale: 2, seed: 1 }).pipe(toArray())).catch((e) => {
        seen.push(e.constructor.name);
        throw e;
      }),
      (e: unknown) => {
        assert.ok(e instanceof WorkerError, String(e));
        assert.match((e as Error).message, failMode === 'exit' ? /exited with code 7/ : /deliberate worker failure at call 3/);
        return true;
      },
    );
    await ticks(3);
    assert.equal(tf.memory().numTensors, before, 'main thread');
    if (failMode === 'throw') {
      assert.equal(await workerTensors(broken), workerBefore, 'the worker freed its half too');
    } else {
      // The engine is unusable after its worker died: every later generation fails the same way, cleanly.
      await assert.rejects(lastValueFrom(textToImage({ model: dual, prompting: t.prompting }, { prompts: PROMPTS, steps: 2, guidanceScale: 2, seed: 1 })), WorkerError);
      assert.equal(tf.memory().numTensors, before);
    }
    await broken.dispose();
  });
}

test('an engine that cannot start surfaces its error through the stream', async () => {
  const before = tf.memory().numTensors;
  const dual = withDualEngine(t.inner, () => Promise.reject(new WorkerError('engine worker failed to start: test')));
  await assert.rejects(lastValueFrom(textToImage({ model: dual, prompting: t.prompting }, { prompts: PROMPTS, steps: 2, guidanceScale: 2 })), /failed to start: test/);
  assert.equal(tf.memory().numTensors, before);
});

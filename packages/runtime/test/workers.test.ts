/**
 * DualEngine: a second tfjs engine in a worker thread gives the same results as the main thread, keeps its own
 * state, averages split-batch gradients exactly, propagates errors and leaks nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { InvalidArgumentError } from '../src/errors.js';
import { DualEngine, resolveWorkerCount, WorkerError, type NamedTensors } from '../src/workers/dual-engine.js';
import { makeMlpWeights } from '../src/workers/demo-engine.js';
import { LocalEngine } from '../src/workers/local-engine.js';
import * as demo from '../src/workers/demo-engine.js';

const MODULE = new URL('../src/workers/demo-engine.ts', import.meta.url);

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('DualEngine with a worker', () => {
  let engine: DualEngine;
  let weights: NamedTensors;
  let reference: LocalEngine;

  before(async () => {
    await initBackend('wasm');
    weights = makeMlpWeights(6, 12, 3, 5);
    engine = await DualEngine.create({ module: MODULE, workers: 2 });
    await engine.setWeights(weights);
    reference = new LocalEngine(demo as unknown as Record<string, unknown>, 0);
    reference.setWeights(weights, false, true);
  });

  after(async () => {
    await engine?.dispose();
    tf.dispose(Object.values(weights ?? {}));
  });

  it('runs with two engines', () => {
    assert.equal(engine.workers, 2);
  });

  it('runPair: the worker computes bit-identical results to the main thread', async () => {
    const x1 = tf.randomNormal([4, 6]);
    const x2 = tf.randomNormal([4, 6]);
    const [a, b] = (await engine.runPair('mlpForward', [{ x: x1 }, { x: x2 }])) as tf.Tensor[];
    const ra = reference.call('mlpForward', { x: x1 }, undefined) as tf.Tensor;
    const rb = reference.call('mlpForward', { x: x2 }, undefined) as tf.Tensor;
    assert.deepEqual(b.shape, [4, 3]);
    assert.equal(maxAbsDiff(a, ra), 0);
    assert.equal(maxAbsDiff(b, rb), 0);
    tf.dispose([x1, x2, a, b, ra, rb]);
  });

  it('runPair passes options and attention runs in the worker', async () => {
    const mk = (): NamedTensors => ({ q: tf.randomNormal([1, 5, 8]), k: tf.randomNormal([1, 7, 8]), v: tf.randomNormal([1, 7, 8]), bias: tf.zeros([1, 5, 7]) });
    const i1 = mk();
    const i2 = mk();
    const [a, b] = (await engine.runPair('attention', [i1, i2], { heads: 2 })) as tf.Tensor[];
    const rb = reference.call('attention', i2, { heads: 2 }) as tf.Tensor;
    assert.deepEqual(a.shape, [1, 5, 8]);
    assert.equal(maxAbsDiff(b, rb), 0);
    tf.dispose([...Object.values(i1), ...Object.values(i2), a, b, rb]);
  });

  it('runSplit equals the whole-batch forward (odd batch)', async () => {
    const x = tf.randomNormal([5, 6]);
    const y = (await engine.runSplit('mlpForward', { x })) as tf.Tensor;
    const r = reference.call('mlpForward', { x }, undefined) as tf.Tensor;
    assert.deepEqual(y.shape, [5, 3]);
    assert.ok(maxAbsDiff(y, r) < 1e-6);
    tf.dispose([x, y, r]);
  });

  it('valueAndGrads: split-batch gradients average to the full-batch gradients', async () => {
    const x = tf.randomNormal([5, 6]);
    const target = tf.randomNormal([5, 3]);
    const { value, grads } = await engine.valueAndGrads('mlpLoss', { x, target });
    const full = reference.valueAndGrads('mlpLoss', { x, target }, undefined);
    assert.ok(Math.abs(value.dataSync()[0] - full.value.dataSync()[0]) < 1e-5);
    assert.deepEqual(Object.keys(grads).sort(), ['b1', 'b2', 'w1', 'w2']);
    for (const name of Object.keys(grads)) assert.ok(maxAbsDiff(grads[name], full.grads[name]) < 1e-5, name);
    const some = await engine.valueAndGrads('mlpLoss', { x, target }, { weights: ['w2'] });
    assert.deepEqual(Object.keys(some.grads), ['w2']);
    tf.dispose([x, target, value, full.value, some.value, ...Object.values(grads), ...Object.values(full.grads), ...Object.values(some.grads)]);
  });

  it('each engine keeps its own state; resetState clears both', async () => {
    await engine.resetState();
    await engine.runPair('countCalls', [{}, {}]).then((outs) => tf.dispose(outs as tf.Tensor[]));
    const [a, b] = (await engine.runPair('countCalls', [{}, {}])) as tf.Tensor[];
    assert.deepEqual(Array.from(a.dataSync()), [0, 2]);
    assert.deepEqual(Array.from(b.dataSync()), [1, 2]);
    await engine.resetState();
    const [c, d] = (await engine.runPair('countCalls', [{}, {}])) as tf.Tensor[];
    assert.deepEqual(Array.from(c.dataSync()), [0, 1]);
    assert.deepEqual(Array.from(d.dataSync()), [1, 1]);
    tf.dispose([a, b, c, d]);
  });

  it('syncWeights mirrors updated weight values into the worker', async () => {
    const w = tf.variable(tf.ones([2, 2]));
    const b = tf.variable(tf.zeros([2]));
    const e2 = await DualEngine.create({ module: MODULE, workers: 2 });
    try {
      await e2.setWeights({ w1: w, b1: b, w2: w, b2: b });
      w.assign(tf.fill([2, 2], 0.5));
      await e2.syncWeights();
      const x = tf.ones([1, 2]);
      const [m, r] = (await e2.runPair('mlpForward', [{ x }, { x }])) as tf.Tensor[];
      assert.equal(maxAbsDiff(m, r), 0);
      tf.dispose([x, m, r]);
    } finally {
      await e2.dispose();
      tf.dispose([w, b]);
    }
  });

  it('errors in the worker reject with WorkerError and the engine stays usable', async () => {
    await assert.rejects(engine.runPair('fail', [{}, {}]), (e: unknown) => e instanceof Error && /deliberate failure/.test((e as Error).message));
    const x = tf.ones([2, 6]);
    await assert.rejects(
      engine.runPair('noSuchFunction', [{ x }, { x }]),
      (e: unknown) => (e instanceof InvalidArgumentError || e instanceof WorkerError) && /noSuchFunction/.test((e as Error).message),
    );
    const [a, b] = (await engine.runPair('mlpForward', [{ x }, { x }])) as tf.Tensor[];
    assert.equal(maxAbsDiff(a, b), 0);
    tf.dispose([x, a, b]);
  });

  it('runTensorParallel: the MLP split over both engines equals the whole MLP on one', async () => {
    const x = tf.randomNormal([5, 6], 0, 1, 'float32', 3);
    const whole = reference.call('mlpForward', { x }, undefined) as tf.Tensor;
    for (let i = 0; i < 3; i++) {
      // Repeated calls reuse the shared memory; each all-reduce alternates slots.
      const split = (await engine.runTensorParallel('mlpForwardSharded', { x }, undefined, x.shape[0] * 3)) as tf.Tensor;
      assert.deepEqual(split.shape, [5, 3]);
      assert.ok(maxAbsDiff(split, whole) < 1e-5, `call ${i}: ${maxAbsDiff(split, whole)}`);
      split.dispose();
    }
    // A larger call than the shared memory first held: it grows.
    const big = tf.randomNormal([40_000, 6], 0, 1, 'float32', 4);
    const bigSplit = (await engine.runTensorParallel('mlpForwardSharded', { x: big }, undefined, big.shape[0] * 3)) as tf.Tensor;
    const bigWhole = reference.call('mlpForward', { x: big }, undefined) as tf.Tensor;
    assert.ok(maxAbsDiff(bigSplit, bigWhole) < 1e-4);
    tf.dispose([x, whole, big, bigSplit, bigWhole]);
  });

  it('runTensorParallel: a failure on either engine rejects the call instead of hanging, and the next call works', async () => {
    const x = tf.ones([2, 3]);
    for (const rank of [0, 1]) {
      for (const after of [0, 2]) {
        await assert.rejects(
          engine.runTensorParallel('failInParallel', { x }, { rank, after }, 6),
          (e: unknown) => e instanceof Error && new RegExp(`deliberate failure on engine ${rank}`).test((e as Error).message),
          `rank ${rank} after ${after}`,
        );
      }
    }
    const ok = (await engine.runTensorParallel('failInParallel', { x }, { rank: 5, after: 1 }, 6)) as tf.Tensor;
    // after + 3 = four all-reduces of ones over two engines: 2, 4, 8, 16.
    assert.deepEqual(Array.from(ok.dataSync()), new Array(6).fill(16));
    tf.dispose([x, ok]);
  });

  it('leaks no tensors on either engine', async () => {
    const x = tf.randomNormal([4, 6]);
    const target = tf.randomNormal([4, 3]);
    // warm-up (first calls may create cached constants)
    tf.dispose((await engine.runPair('mlpForward', [{ x }, { x }])) as tf.Tensor[]);
    const g0 = await engine.valueAndGrads('mlpLoss', { x, target });
    tf.dispose([g0.value, ...Object.values(g0.grads)]);
    const mainBefore = tf.memory().numTensors;
    const workerBefore = (await engine.workerMemory())!.numTensors;
    for (let i = 0; i < 3; i++) {
      tf.dispose((await engine.runPair('mlpForward', [{ x }, { x }])) as tf.Tensor[]);
      tf.dispose((await engine.runSplit('mlpForward', { x })) as tf.Tensor);
      const g = await engine.valueAndGrads('mlpLoss', { x, target });
      tf.dispose([g.value, ...Object.values(g.grads)]);
      tf.dispose((await engine.runTensorParallel('mlpForwardSharded', { x }, undefined, 12)) as tf.Tensor);
    }
    assert.equal(tf.memory().numTensors, mainBefore, 'main thread');
    assert.equal((await engine.workerMemory())!.numTensors, workerBefore, 'worker');
    tf.dispose([x, target]);
  });
});

describe('DualEngine with one engine', () => {
  it('same API, everything on the main thread', async () => {
    await initBackend('wasm');
    const weights = makeMlpWeights(6, 12, 3, 5);
    const engine = await DualEngine.create({ module: MODULE, workers: 1 });
    await engine.setWeights(weights);
    assert.equal(engine.workers, 1);
    const x = tf.randomNormal([3, 6]);
    const [a, b] = (await engine.runPair('mlpForward', [{ x }, { x }])) as tf.Tensor[];
    assert.equal(maxAbsDiff(a, b), 0);
    const { value, grads } = await engine.valueAndGrads('mlpLoss', { x, target: tf.zeros([3, 3]) });
    assert.equal(value.rank, 0);
    assert.equal(Object.keys(grads).length, 4);
    assert.equal(await engine.workerMemory(), undefined);
    // Tensor-parallel functions compute everything when they are alone.
    const whole = (await engine.runTensorParallel('mlpForwardSharded', { x }, undefined, 9)) as tf.Tensor;
    assert.ok(maxAbsDiff(whole, a) < 1e-6);
    whole.dispose();
    await engine.dispose();
    tf.dispose([x, a, b, value, ...Object.values(grads), ...Object.values(weights)]);
  });

  it('resolveWorkerCount reads the option, then SHOWO_WORKERS', () => {
    assert.equal(resolveWorkerCount(undefined, {}), 1);
    assert.equal(resolveWorkerCount(undefined, { SHOWO_WORKERS: '2' }), 2);
    assert.equal(resolveWorkerCount(1, { SHOWO_WORKERS: '2' }), 1);
    assert.ok([1, 2].includes(resolveWorkerCount('auto', {})));
    assert.throws(() => resolveWorkerCount(undefined, { SHOWO_WORKERS: '3' }), InvalidArgumentError);
  });
});

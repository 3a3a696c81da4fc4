// createShowo({ workers: 2 }): guided image tasks on two engines give the images of workers: 1, the worker starts
// on first use and stops with the instance, and nothing is left behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createShowo, type Showo } from '@showo/showo';
import { backend, tinyBundle } from './helpers.js';

let one: Showo;
let two: Showo;
let baseline = 0;

before(async () => {
  await backend();
  baseline = tf.memory().numTensors;
  const model = await tinyBundle();
  one = await createShowo({ model, backend: 'wasm', seed: 7, workers: 1 });
  two = await createShowo({ model, backend: 'wasm', seed: 7, workers: 2 });
});

after(async () => {
  await one?.dispose();
  await two?.dispose();
  assert.equal(tf.memory().numTensors, baseline, 'dispose frees both instances');
});

test('workers: 2 is recorded; the worker starts on the first guided image request only', async () => {
  assert.equal(one.workers, 1);
  assert.equal(one.dual, undefined);
  assert.equal(two.workers, 2);
  assert.equal(two.dual!.started(), undefined, 'not started by createShowo');
  await two.answer({ width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) }, 'what is it?', { maxNewTokens: 2 }).answer();
  await two.t2i('a red circle', { steps: 1, guidanceScale: 0 }).image();
  assert.equal(two.dual!.started(), undefined, 'answers and unguided steps stay on the main thread');
});

test('t2i and edit with guidance: identical results on one and on two engines, no tensor left behind', async () => {
  const request = { steps: 4, guidanceScale: 3, seed: 11 };
  const a = await one.t2i(['a red circle', 'two blue squares'], request).result();
  const before = tf.memory().numTensors;
  const b = await two.t2i(['a red circle', 'two blue squares'], request).result();
  assert.ok(two.dual!.started(), 'the worker was started');
  const engine = await two.dual!.started()!;
  assert.equal(engine.workers, 2);
  assert.deepEqual(b.codes, a.codes);
  assert.deepEqual(b.images, a.images);
  assert.equal(tf.memory().numTensors, before);
  const workerBefore = (await engine.workerMemory())!.numTensors;
  const image = a.images![0]!;
  const e1 = await one.edit(image, 'a green circle', { ...request, strength: 0.5 }).result();
  const e2 = await two.edit(image, 'a green circle', { ...request, strength: 0.5 }).result();
  assert.deepEqual(e2.codes, e1.codes);
  assert.equal(tf.memory().numTensors, before);
  assert.equal((await engine.workerMemory())!.numTensors, workerBefore, 'the worker keeps only its weights');
});

test('SHOWO_WORKERS is read when the option is not given, and bad values are refused', async () => {
  const model = await tinyBundle();
  const previous = process.env.SHOWO_WORKERS;
  try {
    process.env.SHOWO_WORKERS = '3';
    await assert.rejects(createShowo({ model, backend: 'wasm' }), /workers must be 1, 2 or "auto"/);
    process.env.SHOWO_WORKERS = '2';
    const s = await createShowo({ model, backend: 'wasm' });
    assert.equal(s.workers, 2);
    await s.dispose(); // never started: nothing to stop
  } finally {
    if (previous === undefined) delete process.env.SHOWO_WORKERS;
    else process.env.SHOWO_WORKERS = previous;
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { BackendUnavailableError } from '@showo/runtime';
import { createShowo } from '@showo/showo';
import { backend, tempDir, tinyBundle } from './helpers.js';

// tfjs-webgpu in Node has no synchronous read-back (it needs a browser's OffscreenCanvas). A stand-in 'webgpu'
// backend (the cpu backend's factory and kernels under that name), with dataSync / arraySync throwing while it is
// active, checks that every pipeline reads the device only asynchronously.
function registerStandIn(): void {
  if (tf.engine().registryFactory['webgpu']) return;
  tf.registerBackend('webgpu', tf.engine().registryFactory['cpu']!.factory);
  for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'webgpu' });
}

function forbidSyncReads(): () => void {
  const proto = tf.Tensor.prototype as unknown as Record<'dataSync' | 'arraySync', (this: tf.Tensor) => unknown>;
  const saved = { dataSync: proto.dataSync, arraySync: proto.arraySync };
  for (const name of ['dataSync', 'arraySync'] as const) {
    proto[name] = function (this: tf.Tensor) {
      if (tf.getBackend() === 'webgpu') throw new Error(`synchronous ${name} on the webgpu stand-in`);
      return saved[name].call(this);
    };
  }
  return () => Object.assign(proto, saved);
}

test('every task runs on a backend without synchronous reads (webgpu in Node), and frees what it makes', async () => {
  const model = await tinyBundle();
  registerStandIn();
  const restore = forbidSyncReads();
  try {
    const showo = await createShowo({ model, backend: 'webgpu', workers: 2 });
    assert.equal(showo.backend.name, 'webgpu');
    assert.equal(showo.workers, 1, 'one engine on a GPU backend');
    const before = tf.memory().numTensors;
    const image = await showo.t2i('a red circle', { steps: 3, seed: 1, preview: true }).image();
    assert.deepEqual([image.width, image.height], [64, 64]);
    assert.equal(typeof (await showo.answer(image, 'what color is the circle?', { maxNewTokens: 3 }).answer()), 'string');
    const ranked = await showo.t2i('a blue square', { steps: 2, seed: 2, rerank: 2 }).result();
    assert.equal(ranked.rerank?.chosen.length, 1);
    await showo.inpaint(image, 'a blue square', { box: { x: 8, y: 8, width: 24, height: 24 } }, { steps: 2, seed: 3 }).image();
    await showo.edit(image, 'a green circle', { steps: 2, seed: 4 }).image();
    await showo.extrapolate(image, 'a red circle', { direction: 'right', amount: 16, steps: 2, seed: 5 }).image();
    const howto = await showo.howto('how do i build a red circle?', ['step 1: place a red circle in the center.'], { steps: 2, seed: 6 }).images();
    assert.equal(howto.length, 1);
    assert.equal(tf.memory().numTensors, before, 'the pipelines leave the tensor count where they found it');
    await showo.dispose();
  } finally {
    restore();
    await tf.setBackend('wasm');
  }
});

test('a model with image row / column embeddings is refused on webgpu where there is no OffscreenCanvas (Node)', async (t) => {
  if (typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined') return t.skip('OffscreenCanvas exists here');
  await backend();
  const source = await tinyBundle();
  const model = tempDir();
  fs.cpSync(source, model, { recursive: true });
  const configFile = path.join(model, 'showo', 'config.json');
  fs.writeFileSync(configFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(configFile, 'utf8')), image_position_embedding: 'row_col' }));
  registerStandIn();
  const before = tf.memory().numTensors;
  try {
    await assert.rejects(createShowo({ model, backend: 'webgpu' }), (e: unknown) => {
      assert.ok(e instanceof BackendUnavailableError);
      assert.match(e.message, /image row \/ column embeddings.*synchronously.*OffscreenCanvas.*wasm, cpu or tensorflow/);
      return true;
    });
    assert.equal(tf.memory().numTensors, before, 'nothing was loaded');
  } finally {
    await tf.setBackend('wasm');
  }
});

test('cancelling while a read is in flight frees everything (slow asynchronous reads, as on a GPU)', async () => {
  const model = await tinyBundle();
  registerStandIn();
  const restore = forbidSyncReads();
  const proto = tf.Tensor.prototype as unknown as { data: (this: tf.Tensor) => Promise<unknown> };
  const data = proto.data;
  proto.data = async function (this: tf.Tensor) {
    const values = await data.call(this);
    await new Promise((r) => setTimeout(r, 15));
    return values;
  };
  try {
    const showo = await createShowo({ model, backend: 'webgpu' });
    const before = tf.memory().numTensors;
    for (const stopAfter of [0, 1, 2]) {
      const controller = new AbortController();
      const events: string[] = [];
      await assert.rejects(
        showo.t2i('a red circle', { steps: 8, seed: 1, preview: true, signal: controller.signal }).image((e) => {
          events.push(e.type);
          if (e.type === 'step' && e.step === stopAfter) controller.abort();
        }),
      );
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(tf.memory().numTensors, before, `stopped after step ${stopAfter}: nothing left behind`);
    }
    const answering = new AbortController();
    await assert.rejects(
      showo.answer(await showo.t2i('a red circle', { steps: 2, seed: 1 }).image(), 'what color is the circle?', { signal: answering.signal }).answer((e) => {
        if (e.type === 'token') answering.abort();
      }),
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(tf.memory().numTensors, before, 'an answer stopped after its first token leaves nothing behind');
    await showo.dispose();
  } finally {
    proto.data = data;
    restore();
    await tf.setBackend('wasm');
  }
});

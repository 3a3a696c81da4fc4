import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { BackendUnavailableError } from '@showo/runtime';
import { createShowo } from '@showo/showo';
import { tinyBundle } from './helpers.js';

test('createShowo refuses webgpu where there is no OffscreenCanvas (Node), with a typed error saying what to use', async (t) => {
  if (typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined') return t.skip('OffscreenCanvas exists here');
  // A stand-in 'webgpu' backend (the cpu backend's factory and kernels under that name), registered as an app would.
  tf.registerBackend('webgpu', tf.engine().registryFactory['cpu']!.factory);
  for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'webgpu' });
  const model = await tinyBundle();
  const before = tf.memory().numTensors;
  await assert.rejects(createShowo({ model, backend: 'webgpu' }), (e: unknown) => {
    assert.ok(e instanceof BackendUnavailableError);
    assert.match(e.message, /webgpu.*synchronously.*OffscreenCanvas.*wasm, cpu or tensorflow/);
    return true;
  });
  assert.equal(tf.memory().numTensors, before, 'nothing was loaded');
});

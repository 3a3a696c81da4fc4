import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { BackendUnavailableError, initBackend } from '@showo/runtime';

const notInstalled = async (name: string): Promise<unknown> => {
  if (name === '@tensorflow/tfjs-backend-wasm') return import('@tensorflow/tfjs-backend-wasm');
  throw new Error(`Cannot find package '${name}'`);
};

test('auto falls back to wasm when no tfjs-node is installed, and says why', async () => {
  const lines: string[] = [];
  const choice = await initBackend('auto', { log: (l) => lines.push(l), env: {}, importModule: notInstalled });
  assert.equal(choice.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.match(lines[0], /backend: wasm/);
  assert.match(choice.reason, /tfjs-node-gpu not installed/);
});

test('auto uses cpu when wasm cannot load either', async () => {
  const choice = await initBackend('auto', { env: {}, importModule: async (n) => { throw new Error(`no ${n}`); } });
  assert.equal(choice.name, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
});

test('explicit cpu and wasm are honoured, and compute', async () => {
  for (const name of ['cpu', 'wasm'] as const) {
    const choice = await initBackend(name, { env: {} });
    assert.equal(choice.name, name);
    assert.equal(tf.getBackend(), name);
    const y = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
    assert.deepEqual([...(await y.data())], [11]);
  }
});

test('SHOWO_BACKEND overrides auto but not an explicit request', async () => {
  assert.equal((await initBackend('auto', { env: { SHOWO_BACKEND: 'cpu' } })).name, 'cpu');
  assert.equal((await initBackend('wasm', { env: { SHOWO_BACKEND: 'cpu' } })).name, 'wasm');
});

test('an unavailable or unknown backend is a clear error', async () => {
  await assert.rejects(initBackend('tensorflow', { env: {}, importModule: notInstalled }), (e: unknown) => {
    assert.ok(e instanceof BackendUnavailableError);
    assert.match(e.message, /tensorflow.*install @tensorflow\/tfjs-node/);
    return true;
  });
  await assert.rejects(initBackend('webgpu', { env: {} }), BackendUnavailableError);
  await assert.rejects(initBackend('auto', { env: { SHOWO_BACKEND: 'nope' } }), /unknown backend/);
});

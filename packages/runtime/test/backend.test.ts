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
  await assert.rejects(initBackend('webgpu', { env: {}, importModule: notInstalled }), BackendUnavailableError);
  await assert.rejects(initBackend('auto', { env: { SHOWO_BACKEND: 'nope' } }), /unknown backend/);
});

test('webgpu without navigator.gpu or the Dawn package names what to install', async () => {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return; // a runtime with WebGPU built in has nothing to install
  await assert.rejects(initBackend('webgpu', { env: {}, importModule: notInstalled }), (e: unknown) => {
    assert.ok(e instanceof BackendUnavailableError);
    assert.match(e.message, /webgpu.*`webgpu` package \(Dawn for Node\)/);
    return true;
  });
});

test('webgpu in Node: Dawn provides navigator.gpu before the backend package loads, and the backend activates', async () => {
  const before = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  const fakeGpu = { requestAdapter: async () => ({}) };
  const loaded: string[] = [];
  // Stand-ins: Dawn's module, and a backend package that registers only when navigator.gpu exists (as the real one
  // does), here backed by the cpu backend so that it computes.
  const importModule = async (name: string): Promise<unknown> => {
    loaded.push(name);
    if (name === 'webgpu') return { create: (options: string[]) => (assert.deepEqual(options, ['backend=vulkan']), fakeGpu), globals: { GPUBufferUsage: { STORAGE: 128 } } };
    if (name === '@tensorflow/tfjs-backend-webgpu') {
      const gpu = (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;
      assert.equal(gpu, fakeGpu, 'navigator.gpu is set before the backend package is imported');
      const cpuFactory = tf.engine().registryFactory['cpu']!.factory;
      tf.registerBackend('webgpu', cpuFactory);
      for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'webgpu' });
      return {};
    }
    throw new Error(`Cannot find package '${name}'`);
  };
  try {
    const choice = await initBackend('webgpu', { env: { SHOWO_DAWN_OPTIONS: 'backend=vulkan' }, importModule });
    assert.equal(choice.name, 'webgpu');
    assert.match(choice.provider, /Dawn/);
    assert.deepEqual(loaded, ['webgpu', '@tensorflow/tfjs-backend-webgpu']);
    assert.equal((globalThis as unknown as { GPUBufferUsage: { STORAGE: number } }).GPUBufferUsage.STORAGE, 128);
    const y = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
    assert.deepEqual([...(await y.data())], [11]);
    // A second call finds the backend registered and loads nothing.
    loaded.length = 0;
    assert.equal((await initBackend('webgpu', { env: {}, importModule })).name, 'webgpu');
    assert.deepEqual(loaded, []);
  } finally {
    await initBackend('cpu', { env: {} });
    tf.removeBackend('webgpu');
    for (const k of tf.getKernelsForBackend('webgpu')) tf.unregisterKernel(k.kernelName, 'webgpu');
    if (before) Object.defineProperty(globalThis, 'navigator', before);
    else delete (globalThis as { navigator?: unknown }).navigator;
    delete (globalThis as { GPUBufferUsage?: unknown }).GPUBufferUsage;
  }
});

test('webgpu without an adapter is a one-line typed error, and the backend stays as it was', async () => {
  const before = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  await initBackend('cpu', { env: {} });
  const importModule = async (name: string): Promise<unknown> => {
    if (name === 'webgpu') return { create: () => ({ requestAdapter: async () => null }), globals: {} };
    if (name === '@tensorflow/tfjs-backend-webgpu') {
      tf.registerBackend('webgpu', tf.engine().registryFactory['cpu']!.factory);
      return {};
    }
    throw new Error(`Cannot find package '${name}'`);
  };
  try {
    await assert.rejects(initBackend('webgpu', { env: {}, importModule }), (e: unknown) => {
      assert.ok(e instanceof BackendUnavailableError);
      assert.match(e.message, /no WebGPU adapter/);
      return true;
    });
    assert.equal(tf.getBackend(), 'cpu');
  } finally {
    tf.removeBackend('webgpu');
    if (before) Object.defineProperty(globalThis, 'navigator', before);
    else delete (globalThis as { navigator?: unknown }).navigator;
  }
});

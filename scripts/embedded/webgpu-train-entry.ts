// Entry of a one-file bundle of train-showo.ts for a GPU machine that has no npm registry (see gpu-train.sh).
// The runtime's initBackend('webgpu') sets up navigator.gpu from the `webgpu` package (Dawn, kept outside the
// bundle because it loads a native dawn.node) before loading the webgpu backend; here that backend is the bundled
// copy, so that it registers with the bundle's own TensorFlow.js. The trainer then finds it registered.
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';

// In the bundle every module's import.meta.url is the bundle's, so ship.ts's "run me when I am the main script"
// test would pass: point argv[1] elsewhere so that only the trainer runs.
process.argv[1] = 'train-showo (bundled)';

await initBackend('webgpu', {
  importModule: (name) => (name === 'webgpu' ? import(/* external */ 'webgpu') : import('@tensorflow/tfjs-backend-webgpu')),
});

// tfjs-webgpu pools every released GPU buffer by exact size and never frees the pool; training batches vary in
// length, so the pool grows until the device runs out of memory (seen on an H200 after ~200 steps). Every few
// seconds, when the pool holds more than SHOWO_WEBGPU_POOL_MB (default 16 GiB) and no commands are pending (nothing
// encoded still refers to a pooled buffer), destroy the pool. (Purging at every check, the second H200 run's way,
// cost a quarter more time a step: 1.2 → 1.5 s on average.)
const POOL_LIMIT = Number(process.env.SHOWO_WEBGPU_POOL_MB ?? 16384) * 2 ** 20;
interface PoolingBackend {
  commandEncoder?: unknown;
  bufferManager?: { freeBuffers: Map<string, Array<{ size: number; destroy(): void }>>; numFreeBuffers: number; numBytesAllocated: number; numBytesUsed: number };
}
setInterval(() => {
  const backend = tf.backend() as unknown as PoolingBackend;
  const pool = backend.bufferManager;
  if (!pool || pool.numFreeBuffers === 0 || backend.commandEncoder || pool.numBytesAllocated - pool.numBytesUsed < POOL_LIMIT) return;
  for (const list of pool.freeBuffers.values()) {
    for (const buffer of list) {
      buffer.destroy();
      pool.numBytesAllocated -= buffer.size;
    }
    pool.numFreeBuffers -= list.length;
    list.length = 0;
  }
}, 3000).unref();
await import('./train-showo.js');

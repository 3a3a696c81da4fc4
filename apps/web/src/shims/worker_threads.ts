/**
 * `node:worker_threads` for the browser bundle. The second engine of `workers: 2` is a Node worker thread; the
 * web app always runs one engine, so constructing a worker here is a clear error rather than a silent fallback.
 */

export class Worker {
  constructor() {
    throw new Error('worker threads are not available in the browser build: use workers: 1');
  }
}

export const parentPort = null;
export const isMainThread = true;

export default { Worker, parentPort, isMainThread };

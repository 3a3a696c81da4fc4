/**
 * `node:crypto` for the browser bundle. Only the trainer hashes (checkpoint fingerprints), and the demo does not
 * train, so hashing here is a clear error.
 */
export function createHash(algorithm: string): never {
  throw new Error(`createHash('${algorithm}') is not available in the browser build (training runs in Node)`);
}

export function randomUUID(): string {
  return globalThis.crypto.randomUUID();
}

export default { createHash, randomUUID };

/** @packageDocumentation
 * Shared runtime of showo-ts: backend selection, safetensors, seeded randomness, errors and the fast tensor
 * primitives every model is written with.
 */
export * from './errors.js';
export * from './fixtures.js';
export * from './backend.js';
export * from './safetensors.js';
export * from './random.js';
export * from './ops/primitives.js';
export * from './di.js';
export * from './ops/kernels.js';
export * from './workers/dual-engine.js';
export { ExchangeAbortedError, PairExchange, SINGLE_ENGINE, type TensorParallelContext } from './workers/exchange.js';

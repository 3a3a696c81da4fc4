import * as tf from '@tensorflow/tfjs';
import { parameterCount, type ShowoConfig } from './config.js';
import { ModelTooLargeError } from './errors.js';

/**
 * Safe ceiling of live tensor bytes on the wasm backend. wasm32 addresses at most 4 GiB and, past about
 * 3.5 GiB, tfjs-backend-wasm allocations corrupt data silently instead of failing, so we refuse early.
 */
export const WASM_SAFE_BUDGET_BYTES = 3.5 * 2 ** 30;

/** Options of {@link assertModelFits}. */
export interface MemoryBudgetOptions {
  /** Override the budget (bytes) of the active backend; default: {@link WASM_SAFE_BUDGET_BYTES} on wasm, none elsewhere. */
  memoryBudgetBytes?: number;
}

/** Bytes the float32 weights of a model with this config occupy once loaded (bf16/f16 files are widened). */
export function modelBytes(config: ShowoConfig): number {
  return 4 * parameterCount(config);
}

/**
 * Throws {@link ModelTooLargeError} when the weights of `config`, added to what the backend already holds, would
 * exceed the backend's safe budget. Checked before any weight is read or drawn.
 */
export function assertModelFits(config: ShowoConfig, options: MemoryBudgetOptions = {}): void {
  const backend = tf.getBackend();
  const budget = options.memoryBudgetBytes ?? (backend === 'wasm' ? WASM_SAFE_BUDGET_BYTES : Infinity);
  const required = modelBytes(config) + tf.memory().numBytes;
  if (required > budget) throw new ModelTooLargeError(backend, required, budget);
}

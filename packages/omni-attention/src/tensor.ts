import * as tf from '@tensorflow/tfjs';
import type { AllowMask } from './types.js';

/** Options of {@link toTensor} and {@link toAdditiveTensor}. */
export interface ToTensorOptions {
  /** Insert the head axis: `[B, 1, Lq, Lk]` (default true, the official 4-D shape) instead of `[B, Lq, Lk]`. */
  headAxis?: boolean;
}

function shapeOf(mask: AllowMask, headAxis: boolean): number[] {
  return headAxis ? [mask.batch, 1, mask.queries, mask.keys] : [mask.batch, mask.queries, mask.keys];
}

/** The mask as a tf bool tensor (true = may attend), `[B, 1, Lq, Lk]` by default. The caller owns (disposes) it. */
export function toTensor(mask: AllowMask, options: ToTensorOptions = {}): tf.Tensor {
  return tf.tensor(mask.data, shapeOf(mask, options.headAxis ?? true), 'bool');
}

/**
 * The mask as an additive float32 tensor: 0 where attending is allowed, `blocked` (default −1e9, "a very large
 * negative value", which keeps softmax finite) where not. The caller owns (disposes) it.
 */
export function toAdditiveTensor(mask: AllowMask, options: ToTensorOptions & { blocked?: number } = {}): tf.Tensor {
  const blocked = options.blocked ?? -1e9;
  const values = new Float32Array(mask.data.length);
  for (let n = 0; n < values.length; n++) values[n] = mask.data[n] ? 0 : blocked;
  return tf.tensor(values, shapeOf(mask, options.headAxis ?? true), 'float32');
}

/**
 * An engine module for the dual-CFG tests: showo-core's, except that the worker (engine 1) fails on its
 * `failAt`-th imageLogits call — by throwing (`options.failMode: 'throw'`) or by ending its thread ('exit').
 */
import type * as tf from '@tensorflow/tfjs';
import type { EngineContext, NamedTensors } from '@showo/runtime';
import { showoEngine } from '@showo/showo-core';

export const prefill = showoEngine.prefill;
export const release = showoEngine.release;

export function imageLogits(ctx: EngineContext, inputs: NamedTensors, options: unknown): tf.Tensor3D | NamedTensors {
  const o = options as { failAt?: number; failMode?: 'throw' | 'exit' };
  if (ctx.engineIndex === 1 && o.failAt !== undefined) {
    const calls = ((ctx.state.get('calls') as number | undefined) ?? 0) + 1;
    ctx.state.set('calls', calls);
    if (calls >= o.failAt) {
      if (o.failMode === 'exit') process.exit(7);
      throw new Error(`deliberate worker failure at call ${calls}`);
    }
  }
  return showoEngine.imageLogits(ctx, inputs, options);
}

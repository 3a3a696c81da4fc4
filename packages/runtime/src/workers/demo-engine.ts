/**
 * A small engine module for {@link DualEngine}: a 2-layer GELU MLP (forward and mean-squared-error loss) and the
 * attention primitive. Used by the worker tests and by `scripts/bench-primitives.ts --workers` to measure what the
 * second engine gains; also a template for real engine modules (showo-core, trainer).
 */
import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '../random.js';
import { geluTanh, linear, multiHeadAttention } from '../ops/primitives.js';
import type { EngineContext } from './local-engine.js';
import type { NamedTensors } from './protocol.js';

/** Weights of {@link mlpForward}: w1 [in, hidden], b1, w2 [hidden, out], b2 (seeded, deterministic). */
export function makeMlpWeights(inDim: number, hidden: number, outDim: number, seed = 1): NamedTensors {
  const rng = new SeededRandom(seed);
  const normal = (n: number, scale: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * scale);
  return {
    w1: tf.tensor2d(normal(inDim * hidden, 1 / Math.sqrt(inDim)), [inDim, hidden]),
    b1: tf.tensor1d(normal(hidden, 0.1)),
    w2: tf.tensor2d(normal(hidden * outDim, 1 / Math.sqrt(hidden)), [hidden, outDim]),
    b2: tf.tensor1d(normal(outDim, 0.1)),
  };
}

/** inputs.x [..., in] → [..., out]. */
export function mlpForward(ctx: EngineContext, inputs: NamedTensors): tf.Tensor {
  const { w1, b1, w2, b2 } = ctx.weights;
  return linear(geluTanh(linear(inputs.x, w1 as tf.Tensor2D, b1 as tf.Tensor1D)), w2 as tf.Tensor2D, b2 as tf.Tensor1D);
}

/** Mean squared error of mlpForward(x) against inputs.target: a mean over the batch, as valueAndGrads needs. */
export function mlpLoss(ctx: EngineContext, inputs: NamedTensors): tf.Scalar {
  return tf.mean(tf.squaredDifference(mlpForward(ctx, inputs), inputs.target)) as tf.Scalar;
}

/** multiHeadAttention(q, k, v, bias) with options.heads heads (default 8). */
export function attention(ctx: EngineContext, inputs: NamedTensors, options: unknown): tf.Tensor {
  const heads = (options as { heads?: number } | undefined)?.heads ?? 8;
  const { q, k, v, bias } = inputs;
  return multiHeadAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, bias as tf.Tensor3D, heads);
}

/**
 * Counts calls in the engine's own state (a stand-in for a KV cache): returns [engineIndex, calls so far]. Used
 * to check that each engine keeps its own state.
 */
export function countCalls(ctx: EngineContext): tf.Tensor {
  const n = ((ctx.state.get('calls') as number | undefined) ?? 0) + 1;
  ctx.state.set('calls', n);
  return tf.tensor1d([ctx.engineIndex, n]);
}

/** Returns inputs.x unchanged: a call that measures only the cost of crossing the thread boundary. */
export function echo(ctx: EngineContext, inputs: NamedTensors): tf.Tensor {
  return inputs.x.clone();
}

/** Throws, to test error propagation. */
export function fail(): never {
  throw new Error('deliberate failure in the engine module');
}

/**
 * {@link mlpForward} split over the engines of `DualEngine.runTensorParallel` (the Megatron split): engine r takes
 * its half of the hidden units — columns of w1 and b1, rows of w2 — and the all-reduce adds the two halves of the
 * output; b2 is added once, by engine 0. On one engine it computes the whole MLP.
 */
export function mlpForwardSharded(ctx: EngineContext, inputs: NamedTensors): tf.Tensor {
  const { w1, b1, w2, b2 } = ctx.weights;
  const p = ctx.parallel;
  if (!p || p.size === 1) return mlpForward(ctx, inputs);
  const hidden = w1.shape[1]!;
  const half = Math.ceil(hidden / 2);
  const [from, count] = p.rank === 0 ? [0, half] : [half, hidden - half];
  const w1s = tf.slice(w1, [0, from], [w1.shape[0]!, count]) as tf.Tensor2D;
  const b1s = tf.slice(b1, [from], [count]) as tf.Tensor1D;
  const w2s = tf.slice(w2, [from, 0], [count, w2.shape[1]!]) as tf.Tensor2D;
  const partial = linear(geluTanh(linear(inputs.x, w1s, b1s)), w2s, p.rank === 0 ? (b2 as tf.Tensor1D) : undefined);
  return p.allReduceSum(partial);
}

/**
 * Throws on engine `options.rank` after `options.after` all-reduces (tests that the other engine stops waiting);
 * otherwise returns x after `after + 3` all-reduces.
 */
export function failInParallel(ctx: EngineContext, inputs: NamedTensors, options: unknown): tf.Tensor {
  const o = options as { rank: 0 | 1; after: number };
  let x = inputs.x;
  for (let i = 0; ; i++) {
    if (ctx.parallel?.rank === o.rank && i === o.after) throw new Error(`deliberate failure on engine ${o.rank}`);
    x = ctx.parallel ? ctx.parallel.allReduceSum(x) : x;
    if (i > o.after + 1) return x;
  }
}

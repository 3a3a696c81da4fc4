/**
 * Reference implementations of the primitives: the straightforward compositions of tfjs built-in ops (and their
 * built-in gradients) that the fast versions in `primitives.ts` replace. Kept as the oracle of the tests and the
 * "built-in" column of `scripts/bench-primitives.ts`; models should call the fast ones. Same signatures.
 *
 * On wasm some of these cannot be differentiated (conv2d's weight gradient: no `Conv2DBackpropFilter` kernel) and
 * most gradients here are slow (transposed matMul flags, batched matMul).
 */
import * as tf from '@tensorflow/tfjs';
import type { Conv2dPadding } from './primitives.js';

/** `x · w + b` over the last axis of x. x [..., in], w [in, out], b [out] → [..., out]. */
export function linear(x: tf.Tensor, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor {
  return tf.tidy(() => {
    const inDim = w.shape[0];
    const outDim = w.shape[1];
    const lead = x.shape.slice(0, -1);
    const x2 = x.reshape([-1, inDim]);
    let y: tf.Tensor = tf.matMul(x2, w);
    if (b) y = tf.add(y, b);
    return y.reshape([...lead, outDim]);
  });
}

/** Embedding lookup: ids (int32, any shape) into table [V, H] → [...ids.shape, H]. */
export function embedding(ids: tf.Tensor, table: tf.Tensor2D): tf.Tensor {
  return tf.tidy(() => tf.gather(table, ids.toInt()));
}

/** LayerNorm over the last axis. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-5): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
  });
}

/** GroupNorm over NHWC input with `groups` channel groups. */
export function groupNorm(x: tf.Tensor4D, groups: number, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-6): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const g = x.reshape([n, h * w, groups, c / groups]);
    const { mean, variance } = tf.moments(g, [1, 3], true);
    const normed = tf.div(tf.sub(g, mean), tf.sqrt(tf.add(variance, eps))).reshape([n, h, w, c]);
    return tf.add(tf.mul(normed, gamma), beta) as tf.Tensor4D;
  });
}

/** GELU, tanh approximation ("gelu_new"): 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  });
}

/** SiLU / swish: x·sigmoid(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}


/** conv2d on NHWC input, kernel [kh, kw, in, out], optional bias [out]. */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, b?: tf.Tensor1D, stride = 1, padding: Conv2dPadding = 'same'): tf.Tensor4D {
  return tf.tidy(() => {
    let input = x;
    let pad: 'same' | 'valid' = 'valid';
    if (Array.isArray(padding)) input = tf.pad(x, [[0, 0], padding[0], padding[1], [0, 0]]);
    else pad = padding;
    let y = tf.conv2d(input, w, stride, pad);
    if (b) y = tf.add(y, b);
    return y;
  });
}

/** Nearest-neighbour ×2 upsampling of NHWC input. */
export function upsampleNearest2x(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    // [n,h,1,w,1,c] broadcast against ones [1,1,2,1,2,1]: exact and differentiable everywhere.
    const y = tf.mul(x.reshape([n, h, 1, w, 1, c]), tf.ones([1, 1, 2, 1, 2, 1]));
    return y.reshape([n, 2 * h, 2 * w, c]) as tf.Tensor4D;
  });
}

/**
 * Turns a boolean allow-mask [B, Lq, Lk] (1/true = may attend) into the additive bias the attention adds to its
 * scores (0 where allowed, a large negative number where blocked).
 */
export function allowMaskToBias(allow: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => tf.mul(tf.sub(1, tf.cast(allow, 'float32')), -1e9) as tf.Tensor3D);
}

/**
 * Multi-head scaled dot-product attention. q [B, Lq, H·D], k and v [B, Lk, H·D] (heads concatenated along the
 * last axis, as projections produce them), bias [B, Lq, Lk] additive (see {@link allowMaskToBias}) →
 * [B, Lq, H·D]. With a KV cache, k and v hold the cached keys followed by the new ones (Lk ≥ Lq).
 */
export function multiHeadAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, bias: tf.Tensor3D, numHeads: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, lq, hd] = q.shape;
    const lk = k.shape[1];
    const d = hd / numHeads;
    const qh = q.reshape([b, lq, numHeads, d]).transpose([0, 2, 1, 3]);
    const kh = k.reshape([b, lk, numHeads, d]).transpose([0, 2, 1, 3]);
    const vh = v.reshape([b, lk, numHeads, d]).transpose([0, 2, 1, 3]);
    const scores = tf.add(tf.mul(tf.matMul(qh, kh, false, true), 1 / Math.sqrt(d)), bias.expandDims(1));
    const p = tf.softmax(scores, -1);
    return tf.matMul(p, vh).transpose([0, 2, 1, 3]).reshape([b, lq, hd]) as tf.Tensor3D;
  });
}

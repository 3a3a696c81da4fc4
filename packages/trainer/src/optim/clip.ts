import * as tf from '@tensorflow/tfjs';

/**
 * Global-norm gradient clipping as `torch.nn.utils.clip_grad_norm_`: `norm = √Σ‖g‖²`, every gradient scaled by
 * `min(1, maxNorm / (norm + 1e-6))`. Returns new tensors (the caller disposes the inputs) and the norm before
 * clipping, as a scalar tensor so no host read is forced here. `maxNorm` ≤ 0 or infinite only measures the norm.
 */
export function clipByGlobalNorm(grads: readonly tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: tf.Scalar } {
  return tf.tidy(() => {
    const squares = grads.map((g) => tf.sum(tf.square(g)));
    const norm = (squares.length ? tf.sqrt(tf.addN(squares)) : tf.scalar(0)) as tf.Scalar;
    if (!(maxNorm > 0 && Number.isFinite(maxNorm))) return { grads: grads.map((g) => g.clone()), norm };
    const scale = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
    return { grads: grads.map((g) => tf.mul(g, scale)), norm };
  });
}

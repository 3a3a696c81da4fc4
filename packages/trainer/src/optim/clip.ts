import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@showo/runtime';

/**
 * `tf.addN` in groups of at most 6 inputs: the webgpu backend binds one storage buffer per input and WebGPU's
 * default limit is 8 per shader stage, so one AddN over every parameter's square fails there.
 */
function addMany(terms: tf.Tensor[]): tf.Tensor {
  let level = terms;
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += 6) {
      const group = level.slice(i, i + 6);
      next.push(group.length === 1 ? group[0]! : tf.addN(group));
    }
    level = next;
  }
  return level[0]!;
}

/**
 * Global-norm gradient clipping as `torch.nn.utils.clip_grad_norm_`: `norm = √Σ‖g‖²`, every gradient scaled by
 * `min(1, maxNorm / (norm + 1e-6))`. Returns new tensors (the caller disposes the inputs) and the norm before
 * clipping, as a scalar tensor so no host read is forced here. `maxNorm` ≤ 0 or infinite only measures the norm.
 */
export function clipByGlobalNorm(grads: readonly tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: tf.Scalar } {
  return tf.tidy(() => {
    const squares = grads.map((g) => tf.sum(tf.square(g)));
    const norm = (squares.length ? tf.sqrt(addMany(squares)) : tf.scalar(0)) as tf.Scalar;
    if (!(maxNorm > 0 && Number.isFinite(maxNorm))) return { grads: grads.map((g) => g.clone()), norm };
    const scale = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
    return { grads: grads.map((g) => tf.mul(g, scale)), norm };
  });
}

/**
 * {@link clipByGlobalNorm} per group: the gradients whose names start with one of `prefixes` form that prefix's
 * group (the first matching prefix wins), the others one more group, and each group is scaled to at most `maxNorm`
 * on its own. The returned norm is the global one, before clipping. No prefixes: plain global clipping.
 */
export function clipByGroupNorms(names: readonly string[], grads: readonly tf.Tensor[], maxNorm: number, prefixes: readonly string[]): { grads: tf.Tensor[]; norm: tf.Scalar } {
  if (names.length !== grads.length) throw new InvalidArgumentError(`clipByGroupNorms: ${names.length} names for ${grads.length} gradients`);
  if (prefixes.length === 0) return clipByGlobalNorm(grads, maxNorm);
  const groupOf = (name: string) => prefixes.findIndex((p) => name.startsWith(p)); // −1: the rest
  return tf.tidy(() => {
    const out = new Array<tf.Tensor>(grads.length);
    const squares: tf.Tensor[] = [];
    for (let g = -1; g < prefixes.length; g++) {
      const members = names.map((n, i) => (groupOf(n) === g ? i : -1)).filter((i) => i >= 0);
      if (members.length === 0) continue;
      const r = clipByGlobalNorm(members.map((i) => grads[i]!), maxNorm);
      members.forEach((i, k) => (out[i] = r.grads[k]!));
      squares.push(tf.square(r.norm));
    }
    return { grads: out, norm: tf.sqrt(addMany(squares)) as tf.Scalar };
  });
}

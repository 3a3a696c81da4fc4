/**
 * Host-side float32 numerics shared by the samplers. The official sampler runs in float32 PyTorch; every
 * intermediate here is rounded with `Math.fround` at the same places, so discrete decisions (which token a
 * uniform falls on, which confidences are below the cut) match the official ones bit for bit whenever the
 * decision is not within float32 noise of a boundary.
 */
import { LOG_EPS } from './constants.js';

const f32 = Math.fround;

/** The official `log(t) = ln(max(t, 1e-20))`, in float32. */
export function logClamped(t: number): number {
  return f32(Math.log(t > LOG_EPS ? t : LOG_EPS));
}

/** The official `gumbel_noise`: `−log(−log(u))` with the clamped log, in float32. */
export function gumbelFromUniform(u: number): number {
  return -logClamped(f32(-logClamped(f32(u))));
}

/**
 * `torch.multinomial(p, 1)` with the random draw replaced by `u`: the first index whose float32 running sum
 * exceeds `u`. If rounding leaves the total below `u`, the last index with non-zero probability wins (that is
 * where the missing mass belongs).
 */
export function sampleInverseCdf(probs: ArrayLike<number>, offset: number, length: number, u: number): number {
  const uf = f32(u);
  let c = 0;
  let last = 0;
  for (let j = 0; j < length; j++) {
    const p = probs[offset + j];
    c = f32(c + p);
    if (p > 0) last = j;
    if (c > uf) return j;
  }
  return last;
}

/** Index of the largest value (first one on ties, as `torch.argmax`). */
export function argmax(values: ArrayLike<number>, offset: number, length: number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let j = 0; j < length; j++) {
    const v = values[offset + j];
    if (v > bestValue) {
      bestValue = v;
      best = j;
    }
  }
  return best;
}

/**
 * Float32 softmax of one row into `out` (−∞ entries get probability 0). Max-subtracted like every softmax; the
 * sum is accumulated in float32 as PyTorch does.
 */
export function softmaxRow(values: ArrayLike<number>, offset: number, length: number, out: Float32Array, outOffset = 0): void {
  let max = -Infinity;
  for (let j = 0; j < length; j++) if (values[offset + j] > max) max = values[offset + j];
  let sum = 0;
  for (let j = 0; j < length; j++) {
    const e = f32(Math.exp(f32(values[offset + j] - max)));
    out[outOffset + j] = e;
    sum = f32(sum + e);
  }
  for (let j = 0; j < length; j++) out[outOffset + j] = f32(out[outOffset + j] / sum);
}


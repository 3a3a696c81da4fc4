/**
 * Lookup-free quantisation (MAGVIT-v2 `LFQuantizer`): each latent channel becomes one bit, `z > 0` → 1, channel 0
 * is the most significant bit of the code. Inference needs no codebook table; the "embedding" is just the ±1 bit
 * pattern of each index.
 */
import * as tf from '@tensorflow/tfjs';
import { CodeRangeError } from './errors.js';

/** ±1 codebook [2^D, D] (official `quantize.embedding`): entry[i][j] = +1 iff bit (D-1-j) of i is set. */
export function lfqEmbedding(codebookDim: number): Float32Array {
  const K = 2 ** codebookDim;
  const out = new Float32Array(K * codebookDim);
  for (let i = 0; i < K; i++) for (let j = 0; j < codebookDim; j++) out[i * codebookDim + j] = (i >>> (codebookDim - 1 - j)) & 1 ? 1 : -1;
  return out;
}

/** Official `quantize.power_vals`: 2^(D-1-j). */
export function lfqPowers(codebookDim: number): Int32Array {
  return Int32Array.from({ length: codebookDim }, (_, j) => 2 ** (codebookDim - 1 - j));
}

/** Latent [B, h, w, D] → code indices int32 [B, h·w] (row-major over h, w); z = 0 counts as bit 0. */
export function latentToCodes(z: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, h, w, d] = z.shape;
    const bits = tf.cast(tf.greater(z, 0), 'int32');
    // int32 arithmetic keeps every index exact (float32 would round above 2^24).
    const codes = tf.sum(tf.mul(bits, tf.tensor1d(lfqPowers(d), 'int32')), -1);
    return codes.reshape([b, h * w]) as tf.Tensor2D;
  });
}

/** Anything a caller may hold codes in: a tensor [B, N], rows of numbers, or a flat array with a batch size. */
export type CodesInput = tf.Tensor | ArrayLike<number>[] | { data: ArrayLike<number>; batch: number };

/** Reads codes to the host as int32 [B·N] and checks that each lies in [0, 2^D). */
export function readCodes(codes: CodesInput, codebookDim: number): { data: Int32Array; batch: number; length: number } {
  let data: Int32Array;
  let batch: number;
  if (codes instanceof tf.Tensor) {
    if (codes.rank !== 2) throw new CodeRangeError(`codes must be a [batch, h·w] tensor, got shape [${codes.shape.join(', ')}]`);
    batch = codes.shape[0];
    data = Int32Array.from(codes.dataSync());
  } else if (Array.isArray(codes)) {
    batch = codes.length;
    const n = batch ? codes[0].length : 0;
    data = new Int32Array(batch * n);
    codes.forEach((row, b) => {
      if (row.length !== n) throw new CodeRangeError(`code rows must have equal lengths (row 0 has ${n}, row ${b} has ${row.length})`);
      for (let i = 0; i < n; i++) data[b * n + i] = checkInteger(row[i], b, i);
    });
  } else {
    batch = codes.batch;
    data = new Int32Array(codes.data.length);
    for (let i = 0; i < data.length; i++) data[i] = checkInteger(codes.data[i], 0, i);
  }
  if (batch <= 0 || data.length === 0 || data.length % batch !== 0) throw new CodeRangeError(`codes: ${data.length} values do not split into ${batch} non-empty rows`);
  const K = 2 ** codebookDim;
  for (let i = 0; i < data.length; i++) {
    if (data[i] < 0 || data[i] >= K) {
      const n = data.length / batch;
      throw new CodeRangeError(`code ${data[i]} at [${Math.floor(i / n)}, ${i % n}] is outside the codebook [0, ${K - 1}]`);
    }
  }
  return { data, batch, length: data.length / batch };
}

function checkInteger(v: number, b: number, i: number): number {
  if (!Number.isInteger(v)) throw new CodeRangeError(`code ${v} at [${b}, ${i}] is not an integer`);
  return v;
}

/** Host-side: codes [B·h·w] → ±1 latent [B, h, w, D] as a flat NHWC array. */
export function codesToLatentData(codes: Int32Array, codebookDim: number): Float32Array {
  const D = codebookDim;
  const out = new Float32Array(codes.length * D);
  for (let p = 0; p < codes.length; p++) {
    const c = codes[p];
    for (let j = 0; j < D; j++) out[p * D + j] = (c >>> (D - 1 - j)) & 1 ? 1 : -1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Training terms

/** Identity in the forward pass, zero gradient (PyTorch `.detach()`). */
export const stopGradient: (x: tf.Tensor) => tf.Tensor = tf.customGrad((...args) => ({
  value: tf.clone(args[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
}));

/**
 * Straight-through sign: forward `z > 0 ? +1 : −1` (z = 0 → −1), backward the identity — the official
 * `z + (q − z).detach()`.
 */
export const straightThroughSign: (z: tf.Tensor) => tf.Tensor = tf.customGrad((...args) => {
  const z = args[0] as tf.Tensor;
  return {
    value: tf.where(tf.greater(z, 0), tf.onesLike(z), tf.fill(z.shape, -1)),
    gradFunc: (dy: tf.Tensor) => tf.clone(dy),
  };
});

/** Multipliers of the quantiser terms (official `LFQuantizer` arguments). */
export interface LfqLossConfig {
  beta: number;
  entropyMultiplier: number;
  commitLossMultiplier: number;
}

/** Result of {@link lfqForward}: the quantised latent (straight-through) and the two loss terms. */
export interface LfqForward {
  /** ±1 latent, same shape as z, gradient passed straight through to z. */
  zq: tf.Tensor;
  /** `(mean((q̂ − z)²) + β·mean((q − ẑ)²)) · commit_loss_multiplier` (official `quantizer_loss`). */
  commit: tf.Scalar;
  /** `(H̄ − H_mean) · entropy_multiplier` (official `entropy_loss`). */
  entropy: tf.Scalar;
}

const PROB_EPS = 1.1920929e-7; // float32 machine epsilon: torch's clamp_probs bound inside Categorical(probs)

/**
 * The official quantiser forward with its training terms, for a latent z [..., D]. Each (vector, dimension) is a
 * two-way categorical with logits [−(z−1)², −(z+1)²]; their difference is 4z, so p(+1) = sigmoid(4z) and the
 * log-probabilities are −softplus(∓4z) — the same numbers without stacking a [N, D, 2] tensor.
 */
export function lfqForward(z: tf.Tensor, cfg: LfqLossConfig): LfqForward {
  return tf.tidy(() => {
    const D = z.shape[z.shape.length - 1];
    const zf = z.reshape([-1, D]);
    const zq = straightThroughSign(zf);
    // Value of both commit terms is mean((q − z)²); the detaches decide where gradients go, exactly as upstream.
    const commitA = tf.mean(tf.square(tf.sub(stopGradient(zq), zf)));
    const commitB = tf.mean(tf.square(tf.sub(zq, stopGradient(zf))));
    const commit = tf.mul(tf.add(commitA, tf.mul(cfg.beta, commitB)), cfg.commitLossMultiplier) as tf.Scalar;

    const four = tf.mul(zf, 4);
    const pPos = tf.sigmoid(four);
    const pNeg = tf.sigmoid(tf.neg(four));
    const logPos = tf.neg(tf.softplus(tf.neg(four)));
    const logNeg = tf.neg(tf.softplus(four));
    const perElement = tf.neg(tf.add(tf.mul(pPos, logPos), tf.mul(pNeg, logNeg)));
    const meanEntropy = tf.mean(perElement);
    const clampP = (p: tf.Tensor) => tf.clipByValue(p, PROB_EPS, 1 - PROB_EPS);
    const mPos = clampP(tf.mean(pPos, 0));
    const mNeg = clampP(tf.mean(pNeg, 0));
    // Renormalise after clamping, as torch's Categorical does with its probs.
    const mSum = tf.add(mPos, mNeg);
    const qPos = tf.div(mPos, mSum);
    const qNeg = tf.div(mNeg, mSum);
    const entropyOfMean = tf.mean(tf.neg(tf.add(tf.mul(qPos, tf.log(qPos)), tf.mul(qNeg, tf.log(qNeg)))));
    const entropy = tf.mul(tf.sub(meanEntropy, entropyOfMean), cfg.entropyMultiplier) as tf.Scalar;
    return { zq: zq.reshape(z.shape), commit, entropy };
  });
}

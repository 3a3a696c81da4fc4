/**
 * One Show-o decoder layer: Phi-1.5's parallel block with QK-norm, readable top to bottom.
 *
 *   h = LayerNorm(x)
 *   attn = dense(SDPA(RoPE(LN_q(q_proj h)), RoPE(LN_k(k_proj h)), v_proj h; mask))
 *   mlp  = fc2(gelu_new(fc1(h)))
 *   x'   = x + attn + mlp                 (attention and MLP both read the same h)
 *
 * Shapes: B batch rows, T new positions, P cached positions, H hidden, nh heads, hd = H/nh, rd rotary dims.
 * Every op here is differentiable (training runs this inside `tf.variableGrads`); products go through the
 * runtime's fast primitives, the rest is elementwise.
 */
import * as tf from '@tensorflow/tfjs';
import { geluTanh, layerNorm, linear, multiHeadAttention } from '@showo/runtime';

/** A linear layer; `w` is [in, out] (the official checkpoints store [out, in]; the loader transposes once). */
export interface LinearWeights {
  w: tf.Variable<tf.Rank.R2>;
  b: tf.Variable<tf.Rank.R1>;
}

/** LayerNorm affine parameters. */
export interface NormWeights {
  gamma: tf.Variable<tf.Rank.R1>;
  beta: tf.Variable<tf.Rank.R1>;
}

/** The weights of one decoder layer (official names in comments). */
export interface DecoderLayerWeights {
  inputLayernorm: NormWeights; // input_layernorm
  qProj: LinearWeights; // self_attn.q_proj
  kProj: LinearWeights; // self_attn.k_proj
  vProj: LinearWeights; // self_attn.v_proj
  dense: LinearWeights; // self_attn.dense
  qLayernorm?: NormWeights; // self_attn.q_layernorm (only when qk_layernorm)
  kLayernorm?: NormWeights; // self_attn.k_layernorm
  fc1: LinearWeights; // mlp.fc1
  fc2: LinearWeights; // mlp.fc2
}

/** Sizes a layer needs, derived once from the config. */
export interface BlockDims {
  numHeads: number;
  headDim: number;
  rotaryDim: number;
  eps: number;
}

/**
 * Rotary tables of the T new positions, laid out over a whole head so RoPE is two broadcast multiplies:
 * `cos`/`sin` are [1, T, 1, hd] (Phi's [cos f, cos f] / [sin f, sin f] on the first rd channels; 1 / 0 on the
 * pass-through channels), `rotate` is the [hd, hd] signed permutation of rotate_half (identity on the pass-through
 * channels, whose sin is 0 anyway).
 */
export interface Rotary {
  cos: tf.Tensor4D;
  sin: tf.Tensor4D;
  rotate: tf.Tensor2D;
}

/** Keys (after QK-norm and RoPE) and values of every position a layer attended to: [B, P+T, H] each. */
export interface LayerKV {
  k: tf.Tensor3D;
  v: tf.Tensor3D;
}

/** Receives named intermediates (the official debug names); a tensor is only valid during the call. */
export type IntermediateCallback = (name: string, value: tf.Tensor) => void;

/**
 * Rotary tables for positions `offset … offset+T-1`, computed the way Phi computes them in float32:
 * inv_freq[i] = 1 / θ^(2i/rd), angle = pos · inv_freq[i]. Host-side (T·hd numbers), so no tensor is kept
 * between calls and any position is allowed (Phi extends its table past max_position_embeddings too).
 */
export function rotaryTables(offset: number, length: number, headDim: number, rotaryDim: number, theta: number): Rotary {
  const half = rotaryDim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / rotaryDim)));
  const cos = new Float32Array(length * headDim).fill(1);
  const sin = new Float32Array(length * headDim);
  for (let t = 0; t < length; t++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround((offset + t) * invFreq[i]);
      cos[t * headDim + i] = cos[t * headDim + half + i] = Math.cos(angle);
      sin[t * headDim + i] = sin[t * headDim + half + i] = Math.sin(angle);
    }
  }
  // rotate_half(r) = (−r2, r1): output channel j < half reads −r[j+half], channel half ≤ j < rd reads r[j−half].
  const rot = new Float32Array(headDim * headDim); // [in, out], the layout of `linear`
  for (let j = 0; j < half; j++) {
    rot[(j + half) * headDim + j] = -1;
    rot[j * headDim + j + half] = 1;
  }
  for (let j = rotaryDim; j < headDim; j++) rot[j * headDim + j] = 1;
  return {
    cos: tf.tensor4d(cos, [1, length, 1, headDim]),
    sin: tf.tensor4d(sin, [1, length, 1, headDim]),
    rotate: tf.tensor2d(rot, [headDim, headDim]),
  };
}

/**
 * Rotate-half RoPE on the first rd channels of each head; channels rd…hd pass through.
 * x [B, T, nh, hd] → x·cos + rotate_half(x)·sin. rotate_half is a product with a signed permutation rather than
 * slices and a concat along the last axis: on wasm those are ~5× slower than this small 2-D product.
 */
export function applyRotary(x: tf.Tensor4D, rope: Rotary): tf.Tensor4D {
  const hd = x.shape[3];
  const rotated = linear(x.reshape([-1, hd]), rope.rotate).reshape(x.shape);
  return tf.add(tf.mul(x, rope.cos), tf.mul(rotated, rope.sin)) as tf.Tensor4D;
}

/** [B, T, nh·hd] → [B, T, nh, hd] → LayerNorm over hd (QK-norm) → RoPE → [B, T, nh·hd]. */
function normAndRotate(x: tf.Tensor3D, norm: NormWeights | undefined, rope: Rotary, d: BlockDims, trace: ((t: tf.Tensor4D) => void) | undefined): tf.Tensor3D {
  const [b, t, h] = x.shape;
  let heads = x.reshape([b, t, d.numHeads, d.headDim]) as tf.Tensor4D;
  if (norm) heads = layerNorm(heads, norm.gamma, norm.beta, d.eps) as tf.Tensor4D;
  trace?.(heads);
  return (d.rotaryDim > 0 ? applyRotary(heads, rope) : heads).reshape([b, t, h]);
}

/**
 * One decoder layer.
 * @param x     hidden states of the new positions [B, T, H]
 * @param bias  additive attention bias [B, T, P+T] (0 = may attend, large negative = blocked)
 * @param past  cached keys/values of the P earlier positions (undefined when P = 0)
 * @param residual  false: return attn + mlp without x (a tensor-parallel share, whose sum over the shares is
 *                  added to x once)
 * @returns the layer output [B, T, H] and the keys/values of all P+T positions (for the cache)
 */
export function decoderLayer(
  x: tf.Tensor3D,
  w: DecoderLayerWeights,
  d: BlockDims,
  rope: Rotary,
  bias: tf.Tensor3D,
  past: LayerKV | undefined,
  trace?: (name: string, value: tf.Tensor) => void,
  residual = true,
): { out: tf.Tensor3D; kv: LayerKV } {
  const h = layerNorm(x, w.inputLayernorm.gamma, w.inputLayernorm.beta, d.eps) as tf.Tensor3D; // [B,T,H]
  trace?.('input_layernorm', h);

  // (a) attention
  const qLin = linear(h, w.qProj.w, w.qProj.b) as tf.Tensor3D; // [B,T,H]
  trace?.('q_proj', qLin);
  // The official debug tensors are [B,nh,T,hd]; transpose only when someone is listening.
  const headsFirst = (name: string) => (trace ? (t: tf.Tensor4D) => trace(name, t.transpose([0, 2, 1, 3])) : undefined);
  const q = normAndRotate(qLin, w.qLayernorm, rope, d, headsFirst('q_layernorm'));
  const kNew = normAndRotate(linear(h, w.kProj.w, w.kProj.b) as tf.Tensor3D, w.kLayernorm, rope, d, headsFirst('k_layernorm'));
  const vNew = linear(h, w.vProj.w, w.vProj.b) as tf.Tensor3D;
  const k = past ? (tf.concat([past.k, kNew], 1) as tf.Tensor3D) : kNew; // [B,P+T,H]
  const v = past ? (tf.concat([past.v, vNew], 1) as tf.Tensor3D) : vNew;
  const attn = linear(multiHeadAttention(q, k, v, bias, d.numHeads), w.dense.w, w.dense.b) as tf.Tensor3D; // [B,T,H]
  trace?.('self_attn', attn);

  // (b) MLP on the same normalised input
  const mlp = linear(geluTanh(linear(h, w.fc1.w, w.fc1.b)), w.fc2.w, w.fc2.b) as tf.Tensor3D; // [B,T,I] → [B,T,H]
  trace?.('mlp', mlp);

  const out = (residual ? tf.addN([attn, mlp, x]) : tf.add(attn, mlp)) as tf.Tensor3D;
  trace?.('out', out);
  return { out, kv: { k, v } };
}

/**
 * The primitives every model of showo-ts is written with. Each takes and returns plain tfjs tensors and is safe to
 * differentiate on every backend. Layout conventions:
 * - linear weights are stored **[in, out]** (the official checkpoints store [out, in]; loaders transpose once), so
 *   the forward pass is a plain 2-D matMul — the only fast matMul on wasm;
 * - images are NHWC, conv kernels [kh, kw, in, out] (tfjs layout; loaders convert from PyTorch's [out, in, kh, kw]).
 *
 * Why the bodies look the way they do (tfjs-backend-wasm 4.22, measured in CPU time on the project's 2-core
 * machine; `node --import tsx scripts/bench-primitives.ts` prints the current figures):
 * - only the plain 2-D matMul is fast (~20 GFLOP/s); `transposeA/B` flags are 25–35× slower and batched (rank-3)
 *   matMul ~15× slower. Every gradient here is therefore written by hand (`tf.customGrad`) as explicit
 *   `tf.transpose` (cheap) followed by plain 2-D matMuls; attention runs one 2-D matMul per (batch, head), with
 *   the bias add and softmax per head too (same-shape 2-D element-wise ops beat one broadcasting op over
 *   [B, H, Lq, Lk]);
 * - element-wise ops cost ~1–4 ns per element each and `tanh`/`pow` ~10× more, so the analytic gradients touch
 *   each big tensor as few times as possible, and GELU is computed as x·sigmoid(2u) (= 0.5x(1 + tanh u));
 * - reductions over a leading or middle axis are slow (`tf.sum(x, 0)` on [1344, 512]: 2.5 ms) but a ones-row 2-D
 *   matMul does the same in 0.6 ms, so column sums (bias gradients, norm statistics) are matMuls;
 * - `tf.slice`/`tf.unstack` copy the whole input once per piece on wasm, and non-contiguous slices cost ~1 µs
 *   per contiguous run: heads are split with {@link unstack0}, conv weight gradients read contiguous slices only;
 * - conv gradients: `conv2dTranspose` (the built-in input gradient) is 4–12× slower than a stride-1 conv of dy
 *   with the flipped kernel, `Conv2DBackpropFilter` does not exist on wasm, XNNPACK's conv over the batch axis
 *   (the textbook weight gradient) is ~10× slower than per-tap matMuls, `Reverse` is slow (the kernel flip is a
 *   0/1 matMul) and rank-6 transposes are ~50× slower than two rank-4 ones.
 * Gradient bodies run in their own `tf.tidy` so that a layer's backward temporaries are freed as soon as it is done
 * (tfjs would otherwise keep them until the whole backward pass ends).
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors.js';
import { gatherRows, unstack0 } from './kernels.js';
import * as reference from './reference.js';

/**
 * Which implementation the primitives run: `'fast'` (hand-written gradients on the fast paths, tuned for wasm: one
 * 2-D matMul per sample and head), `'reference'` (plain tfjs ops with tfjs's built-in gradients, batched) or `'auto'`
 * (the default: `reference` on GPU backends, webgpu and webgl, where each dispatch costs more than a small product
 * and batched ops win; `fast` elsewhere). Both give the same values. The switch also serves benchmarks (`npm run
 * bench` reports a training step both ways) and debugging a suspected fast-path error.
 */
export type PrimitiveImplementation = 'auto' | 'fast' | 'reference';
let implementation: PrimitiveImplementation = 'auto';

/** Backends on which `'auto'` runs the reference (batched) implementation. */
const BATCHED_BACKENDS: ReadonlySet<string> = new Set(['webgpu', 'webgl']);

/** Selects the implementation behind every primitive (see {@link PrimitiveImplementation}); returns the previous one. */
export function setPrimitiveImplementation(impl: PrimitiveImplementation): PrimitiveImplementation {
  const previous = implementation;
  implementation = impl;
  return previous;
}

/** The implementation setting now behind the primitives (`'auto'` unless set). */
export function primitiveImplementation(): PrimitiveImplementation {
  return implementation;
}

function useReference(): boolean {
  return implementation === 'reference' || (implementation === 'auto' && BATCHED_BACKENDS.has(tf.getBackend()));
}

type Saved = tf.Tensor[];
type GradResult = { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: Saved) => tf.Tensor | tf.Tensor[] };

/**
 * Typed wrapper over `tf.customGrad`: `f(inputs, save)` returns the value and a gradient function that returns one
 * gradient per input, each of the input's shape. Only tensors can be inputs; other parameters are closed over.
 */
function customOp(f: (inputs: tf.Tensor[], save: (tensors: tf.Tensor[]) => void) => GradResult): (...inputs: tf.Tensor[]) => tf.Tensor {
  const g = tf.customGrad(((...args: Array<tf.Tensor | ((t: tf.Tensor[]) => void)>) => {
    const save = args[args.length - 1] as (t: tf.Tensor[]) => void;
    const r = f(args.slice(0, -1) as tf.Tensor[], save);
    return { value: r.value, gradFunc: (dy: tf.Tensor, saved: Saved) => tf.tidy(() => r.gradFunc(dy, saved)) };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  // With no gradient tape recording (inference: sampling, KV-cache decoding), `tf.customGrad` is pure overhead —
  // ~100 µs per call in CPU time, 4–5× a small matMul — so the same forward ops run directly (identical values).
  return (...inputs: tf.Tensor[]) => (tf.engine().isTapeOn() ? g(...inputs) : tf.tidy(() => f(inputs, noSave).value));
}

function noSave(): void {}

function shapeStr(t: tf.Tensor | undefined): string {
  return t ? `[${t.shape.join(', ')}]` : 'none';
}

/** Sum over rows of a 2-D tensor, [N, C] → [C], as a ones-row matMul (fast on wasm, see the header). */
export function columnSum(m: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.matMul(tf.ones([1, m.shape[0]]), m).reshape([m.shape[1]]) as tf.Tensor1D);
}

// ---------------------------------------------------------------------------------------------------------------
// matMul / linear

const matMulOp = customOp(([a, b], save) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy, [a, b]) => [tf.matMul(dy, tf.transpose(b)), tf.matMul(tf.transpose(a), dy)],
  };
});

const matMulBiasOp = customOp(([a, b, bias], save) => {
  save([a, b]);
  return {
    value: tf.add(tf.matMul(a, b), bias),
    gradFunc: (dy, [a, b]) => [tf.matMul(dy, tf.transpose(b)), tf.matMul(tf.transpose(a), dy), columnSum(dy as tf.Tensor2D)],
  };
});

/**
 * a · wᵀ (+ bias) with w [out, in]. Forward: XNNPACK packs a matMul's right operand for every new tensor (~5–10 ns
 * per element), so with few rows (a decoding step through a [V, H] output table) transposing the small side,
 * (w·aᵀ)ᵀ, beats packing a fresh wᵀ — 14 ms versus 274 ms for 2 rows through [16384, 1024]. The gradients need no
 * transpose of dy for dx (right operand w itself, packed once) and one for dw.
 */
const matMulTransBOp = customOp(([a, w, bias], save) => {
  save([a, w]);
  let value = 4 * a.shape[0] <= w.shape[0] ? tf.transpose(tf.matMul(w, tf.transpose(a))) : tf.matMul(a, tf.transpose(w));
  if (bias) value = tf.add(value, bias);
  return {
    value,
    gradFunc: (dy, [a, w]) => {
      const grads = [tf.matMul(dy, w), tf.matMul(tf.transpose(dy), a)];
      if (bias) grads.push(columnSum(dy as tf.Tensor2D));
      return grads;
    },
  };
});

/**
 * 2-D matrix product `op(a) · op(b)` on the fast path in both directions: transpose flags are applied as explicit
 * `tf.transpose` (never as matMul flags, which are 25–35× slower on wasm) and the gradient is two plain matMuls.
 */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D, transposeA = false, transposeB = false): tf.Tensor2D {
  if (a.rank !== 2 || b.rank !== 2) throw new InvalidArgumentError(`matMul2d: expected 2-D tensors, got ${shapeStr(a)} and ${shapeStr(b)}`);
  return tf.tidy(() => {
    const aa = transposeA ? tf.transpose(a) : a;
    const bb = transposeB ? tf.transpose(b) : b;
    if (aa.shape[1] !== bb.shape[0]) {
      throw new InvalidArgumentError(`matMul2d: inner dimensions differ: ${shapeStr(aa)} · ${shapeStr(bb)} (after transposes ${transposeA}, ${transposeB})`);
    }
    return matMulOp(aa, bb) as tf.Tensor2D;
  });
}

function checkLinear(name: string, x: tf.Tensor, inDim: number, outDim: number, w: tf.Tensor, b?: tf.Tensor): void {
  if (w.rank !== 2 || x.rank < 1 || x.shape[x.rank - 1] !== inDim || (b && (b.rank !== 1 || b.shape[0] !== outDim))) {
    throw new InvalidArgumentError(`${name}: x ${shapeStr(x)}, w ${shapeStr(w)}, b ${shapeStr(b)} do not fit (x's last axis must be ${inDim}, b [${outDim}])`);
  }
}

/** `x · w + b` over the last axis of x. x [..., in], w [in, out], b [out] → [..., out]. */
export function linear(x: tf.Tensor, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor {
  if (useReference()) return reference.linear(x, w, b);
  const [inDim, outDim] = w.shape;
  checkLinear('linear', x, inDim, outDim, w, b);
  return tf.tidy(() => {
    const x2 = x.reshape([-1, inDim]);
    const y = b ? matMulBiasOp(x2, w, b) : matMulOp(x2, w);
    return y.reshape([...x.shape.slice(0, -1), outDim]);
  });
}

/**
 * `x · wᵀ + b` for a weight stored **[out, in]** (PyTorch's layout, or a tied embedding table [V, H] used as the
 * output projection). x [..., in] → [..., out]. Plain 2-D matMuls both ways (dx = dy·w, dw = dyᵀ·x); the forward
 * transposes whichever of x and w is smaller.
 */
export function linearTransposed(x: tf.Tensor, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor {
  const [outDim, inDim] = w.shape;
  checkLinear('linearTransposed', x, inDim, outDim, w, b);
  return tf.tidy(() => {
    const x2 = x.reshape([-1, inDim]);
    const y = b ? matMulTransBOp(x2, w, b) : matMulTransBOp(x2, w);
    return y.reshape([...x.shape.slice(0, -1), outDim]);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// embedding

/**
 * Embedding lookup: ids (int32, any shape) into table [V, H] → [...ids.shape, H]. The gradient to the table is a
 * scatter-add of dy rows (`tf.unsortedSegmentSum`; on wasm the kernel registered by `kernels.ts`), never a
 * [N, V] one-hot product. ids receive no gradient.
 */
export function embedding(ids: tf.Tensor, table: tf.Tensor2D): tf.Tensor {
  if (useReference()) return reference.embedding(ids, table);
  if (table.rank !== 2) throw new InvalidArgumentError(`embedding: table must be [V, H], got ${shapeStr(table)}`);
  const [vocab, hidden] = table.shape;
  return tf.tidy(() => {
    const flat = (ids.dtype === 'int32' ? ids : tf.cast(ids, 'int32')).reshape([-1]);
    const op = customOp(([t], save) => {
      save([flat]);
      return {
        value: gatherRows(t as tf.Tensor2D, flat as tf.Tensor1D),
        gradFunc: (dy, [idx]) => [tf.unsortedSegmentSum(dy, idx as tf.Tensor1D, vocab)],
      };
    });
    return op(table).reshape([...ids.shape, hidden]);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// normalisation

/** LayerNorm over the last axis. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-5): tf.Tensor {
  if (useReference()) return reference.layerNorm(x, gamma, beta, eps);
  const c = x.shape[x.rank - 1];
  if (gamma.rank !== 1 || beta.rank !== 1 || gamma.shape[0] !== c || beta.shape[0] !== c) {
    throw new InvalidArgumentError(`layerNorm: x ${shapeStr(x)} needs gamma and beta [${c}], got ${shapeStr(gamma)} and ${shapeStr(beta)}`);
  }
  return tf.tidy(() => layerNormOp(eps)(x.reshape([-1, c]), gamma, beta).reshape(x.shape));
}

const layerNormOps = new Map<number, (...t: tf.Tensor[]) => tf.Tensor>();
function layerNormOp(eps: number): (...t: tf.Tensor[]) => tf.Tensor {
  let op = layerNormOps.get(eps);
  if (op) return op;
  op = customOp(([x, gamma, beta], save) => {
    const mean = tf.mean(x, -1, true);
    const xc = tf.sub(x, mean);
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps));
    const xhat = tf.mul(xc, rstd);
    save([xhat, rstd, gamma]);
    return {
      value: tf.add(tf.mul(xhat, gamma), beta),
      // dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ; mean(g) and mean(g·x̂) are matMuls with γ/C as a
      // column, so g itself is formed once.
      gradFunc: (dy, [xhat, rstd, gamma]) => {
        const cols = gamma.shape[0];
        const gCol = tf.div(gamma, cols).reshape([cols, 1]);
        const p = tf.mul(dy, xhat);
        const meanG = tf.matMul(dy, gCol);
        const meanGX = tf.matMul(p, gCol);
        const dx = tf.mul(tf.sub(tf.sub(tf.mul(dy, gamma), meanG), tf.mul(xhat, meanGX)), rstd);
        return [dx, columnSum(p as tf.Tensor2D), columnSum(dy as tf.Tensor2D)];
      },
    };
  });
  layerNormOps.set(eps, op);
  return op;
}

/** GroupNorm over NHWC input with `groups` channel groups. */
export function groupNorm(x: tf.Tensor4D, groups: number, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-6): tf.Tensor4D {
  if (useReference()) return reference.groupNorm(x, groups, gamma, beta, eps);
  const [n, h, w, c] = x.shape;
  if (x.rank !== 4 || !Number.isInteger(groups) || groups < 1 || c % groups !== 0 || gamma.shape[0] !== c || beta.shape[0] !== c) {
    throw new InvalidArgumentError(`groupNorm: x ${shapeStr(x)} (NHWC) with ${groups} groups needs channels divisible by groups and gamma/beta [${c}], got ${shapeStr(gamma)} and ${shapeStr(beta)}`);
  }
  return tf.tidy(() => groupNormOp(n, h * w, groups, c / groups, eps)(x.reshape([n * h * w, c]), gamma, beta).reshape([n, h, w, c]) as tf.Tensor4D);
}

/**
 * Block matrix E [n, n·hw] with ones where row i meets the rows of sample i: E·X sums X [n·hw, c] per sample as
 * one 2-D matMul (reductions over a middle axis are slow on wasm).
 */
function sampleSummer(n: number, hw: number): tf.Tensor2D {
  if (n === 1) return tf.ones([1, hw]);
  const e = new Float32Array(n * n * hw);
  for (let i = 0; i < n; i++) e.fill(1, i * n * hw + i * hw, i * n * hw + (i + 1) * hw);
  return tf.tensor2d(e, [n, n * hw]);
}

function groupNormOp(n: number, hw: number, groups: number, cg: number, eps: number): (...t: tf.Tensor[]) => tf.Tensor {
  const c = groups * cg;
  const count = hw * cg;
  // Per-(sample, channel) sums [n, c] → the mean over each channel group, repeated per channel: [n, 1, c]. Every
  // big element-wise op then broadcasts a per-channel [n, 1, c] vector over [n, hw, c], whose innermost axis is long
  // and contiguous (broadcasting [n, 1, g, 1] over [n, hw, g, c/g] runs XNNPACK's inner loop c/g elements at a time).
  const perChannel = (sums: tf.Tensor): tf.Tensor =>
    tf.mul(tf.div(tf.sum(sums.reshape([n, groups, cg]), -1, true), count), tf.ones([1, 1, cg])).reshape([n, 1, c]);
  return customOp(([x2, gamma, beta], save) => {
    const e = sampleSummer(n, hw);
    const x3 = x2.reshape([n, hw, c]);
    const mean = perChannel(tf.matMul(e, x2));
    const xc = tf.sub(x3, mean);
    const rstd = tf.rsqrt(tf.add(perChannel(tf.matMul(e, tf.square(xc).reshape([n * hw, c]))), eps)); // [n, 1, c]
    const y = tf.add(tf.mul(xc, tf.mul(rstd, gamma)), beta);
    save([xc, rstd, gamma]);
    return {
      value: y.reshape([n * hw, c]),
      // With x̂ = xc·rstd and g = dy·γ: dx = rstd·(g − mean_G(g) − x̂·mean_G(g·x̂)). The group means come from
      // per-channel sums E·dy and E·(dy·xc) (two matMuls), which also give dβ and dγ.
      gradFunc: (dy, [xc, rstd, gamma]) => {
        const e2 = sampleSummer(n, hw);
        const dy3 = dy.reshape([n, hw, c]);
        const sumDy = tf.matMul(e2, dy); // [n, c]: Σ_hw dy per (sample, channel)
        const sumDyXc = tf.matMul(e2, tf.mul(dy3, xc).reshape([n * hw, c])); // [n, c]
        const r2 = rstd.reshape([n, c]);
        const dbeta = tf.sum(sumDy, 0);
        const dgamma = tf.sum(tf.mul(sumDyXc, r2), 0);
        const meanG = perChannel(tf.mul(sumDy, gamma)); // mean_G(g)
        const meanGXc = perChannel(tf.mul(sumDyXc, gamma)); // mean_G(g·xc)
        // dx = dy·(γ·rstd) − xc·rstd³·mean_G(g·xc) − rstd·mean_G(g): three [n, 1, c] coefficient vectors.
        const a = tf.mul(rstd, gamma);
        const bcoef = tf.mul(tf.mul(tf.square(rstd), rstd), meanGXc);
        const ccoef = tf.mul(rstd, meanG);
        const dx = tf.sub(tf.sub(tf.mul(dy3, a), tf.mul(xc, bcoef)), ccoef);
        return [dx.reshape([n * hw, c]), dgamma, dbeta];
      },
    };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// activations

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/**
 * GELU, tanh approximation ("gelu_new"): 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))), computed as x·σ(2u) — the same
 * function (0.5(1 + tanh u) = σ(2u)) without `tanh`/`pow`, which are ~10× slower than `sigmoid` on wasm.
 */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  if (useReference()) return reference.geluTanh(x);
  return geluOp(x);
}

const geluOp = customOp(([x], save) => {
  // 2u = x·(2c + 2c·a·x²)
  const x2 = tf.square(x);
  const s = tf.sigmoid(tf.mul(x, tf.add(tf.mul(x2, 2 * GELU_C * GELU_A), 2 * GELU_C)));
  save([x, s]);
  return {
    value: tf.mul(x, s),
    // d/dx x·σ(2u) = s + x·s(1−s)·2u',  2u' = 2c(1 + 3a·x²)
    gradFunc: (dy, [x, s]) => {
      const du = tf.add(tf.mul(tf.square(x), 6 * GELU_C * GELU_A), 2 * GELU_C);
      const ds = tf.mul(tf.mul(s, tf.sub(1, s)), tf.mul(x, du));
      return [tf.mul(dy, tf.add(s, ds))];
    },
  };
});

/** SiLU / swish: x·sigmoid(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  if (useReference()) return reference.silu(x);
  return siluOp(x);
}

const siluOp = customOp(([x], save) => {
  const s = tf.sigmoid(x);
  const y = tf.mul(x, s);
  save([x, s, y]);
  return {
    value: y,
    // d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x))) = σ(x)·(1 + x − y): reusing the output saves one pass.
    gradFunc: (dy, [x, s, y]) => [tf.mul(dy, tf.mul(s, tf.add(tf.sub(x, y), 1)))],
  };
});

// ---------------------------------------------------------------------------------------------------------------
// convolution

/** Padding of conv2d: 'same', 'valid', or explicit [[top, bottom], [left, right]]. */
export type Conv2dPadding = 'same' | 'valid' | [[number, number], [number, number]];

interface ConvGeometry {
  top: number;
  bottom: number;
  left: number;
  right: number;
  outH: number;
  outW: number;
}

function convGeometry(h: number, w: number, kh: number, kw: number, stride: number, padding: Conv2dPadding): ConvGeometry {
  let top = 0;
  let bottom = 0;
  let left = 0;
  let right = 0;
  if (padding === 'same') {
    // TensorFlow's rule: output ceil(in/stride), the odd pixel of padding goes to the bottom/right.
    const padH = Math.max((Math.ceil(h / stride) - 1) * stride + kh - h, 0);
    const padW = Math.max((Math.ceil(w / stride) - 1) * stride + kw - w, 0);
    top = Math.floor(padH / 2);
    bottom = padH - top;
    left = Math.floor(padW / 2);
    right = padW - left;
  } else if (Array.isArray(padding)) {
    [[top, bottom], [left, right]] = padding;
  }
  const outH = Math.floor((h + top + bottom - kh) / stride) + 1;
  const outW = Math.floor((w + left + right - kw) / stride) + 1;
  return { top, bottom, left, right, outH, outW };
}

type Explicit4 = [[number, number], [number, number], [number, number], [number, number]];
function explicit(t: number, b: number, l: number, r: number): Explicit4 {
  return [[0, 0], [t, b], [l, r], [0, 0]];
}

/**
 * Inserts stride−1 zeros after every row and column of dy [n, oh, ow, c] → [n, oh·s, ow·s, c] (the trailing
 * zero rows are part of the result and accounted for by the caller's padding).
 */
function dilate(dy: tf.Tensor4D, s: number): tf.Tensor4D {
  const [n, oh, ow, c] = dy.shape;
  return tf.pad(dy.reshape([n, oh, 1, ow, 1, c]), [[0, 0], [0, 0], [0, s - 1], [0, 0], [0, s - 1], [0, 0]]).reshape([n, oh * s, ow * s, c]) as tf.Tensor4D;
}

/**
 * Kernel reversed along both spatial axes, [kh, kw, in, out] → same shape. Reversing (i, j) reverses the flattened
 * tap index i·kw + j, so this is a [kh·kw]×[kh·kw] anti-identity matMul (exact: products with 1, sums with 0);
 * wasm's `Reverse` kernel took ~20 ms on a [3, 3, 128, 128] kernel, this ~0.1 ms.
 */
function flipSpatial(w: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw, cin, cout] = w.shape;
  const taps = kh * kw;
  const perm = new Float32Array(taps * taps);
  for (let a = 0; a < taps; a++) perm[a * taps + (taps - 1 - a)] = 1;
  return tf.matMul(tf.tensor2d(perm, [taps, taps]), w.reshape([taps, cin * cout])).reshape([kh, kw, cin, cout]) as tf.Tensor4D;
}

/**
 * Weight gradient of a conv: dW[i, j] = Σ_pixels x_pad[o·s + (i, j)]ᵀ · dy[o], as one plain 2-D matMul per kernel
 * tap, [in, P]·[P, out], with the data laid out so that every tap operand is a set of long contiguous runs (wasm
 * copies a contiguous run with one memcpy; per-pixel slices, and XNNPACK's conv over the batch axis — the textbook
 * formulation, with n input channels — are each ~10× slower here):
 * - the padded input is split into its stride phases and put channel-first, [s·s, in, n, Hq·Wq] (rank-4
 *   transposes; rank 6 is ~50× slower on wasm);
 * - in a phase, flattened over (row, col), the tap (i, j) starts at offset (i//s)·Wq + j//s, and the oh·Wq
 *   positions from there line up with a "wide" output grid of oh rows × Wq columns;
 * - the Wq − ow extra columns of that grid get zero output gradient, so whatever they read contributes nothing.
 * The right-hand operand, dy on the wide grid, is the same tensor for every tap: XNNPACK packs a matMul's right
 * operand (~5–10 ns per element) once per tensor, so it is packed once instead of once per tap. The matMuls do
 * Wq/ow more work than strictly needed (6 % for a 3×3 conv on a 32-wide map).
 */
function convWeightGrad(x: tf.Tensor4D, dy: tf.Tensor4D, kh: number, kw: number, stride: number, top: number, left: number): tf.Tensor4D {
  const [n, h, w, cin] = x.shape;
  const [, oh, ow, cout] = dy.shape;
  const s = stride;
  const hq = oh + Math.floor((kh - 1) / s) + 1; // +1 row: the last wide row reads a few positions past the end
  const wq = ow + Math.floor((kw - 1) / s);
  const hp = hq * s;
  const wp = wq * s;
  let xp: tf.Tensor4D = x;
  const keepH = Math.min(h, hp - top);
  const keepW = Math.min(w, wp - left);
  if (keepH < h || keepW < w) xp = tf.slice(xp, [0, 0, 0, 0], [n, keepH, keepW, cin]);
  xp = tf.pad(xp, [[0, 0], [top, hp - top - keepH], [left, wp - left - keepW], [0, 0]]);
  // [phase = (column phase, row phase), in, n, Hq·Wq]
  let phases: tf.Tensor;
  if (s === 1) {
    phases = tf.transpose(xp.reshape([n, hq * wq, cin]), [2, 0, 1]).reshape([1, cin, n, hq * wq]);
  } else {
    const rowPhase = tf.transpose(xp.reshape([n, hq, s, wq * s * cin]), [2, 0, 1, 3]); // [s_i, n, hq, wq·s·in]
    const colPhase = tf.transpose(rowPhase.reshape([s * n * hq, wq, s, cin]), [2, 0, 1, 3]); // [s_j, s_i·n·hq, wq, in]
    phases = tf.transpose(colPhase.reshape([s * s, n, hq * wq, cin]), [0, 3, 1, 2]);
  }
  const dyWide = wq === ow ? dy : tf.pad(dy, [[0, 0], [0, 0], [0, wq - ow], [0, 0]]);
  const dy2 = dyWide.reshape([n * oh * wq, cout]);
  const len = oh * wq;
  const taps: tf.Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const phase = (j % s) * s + (i % s);
      const offset = Math.floor(i / s) * wq + Math.floor(j / s);
      const tap = tf.slice(phases, [phase, 0, 0, offset], [1, cin, n, len]).reshape([cin, n * len]);
      taps.push(tf.matMul(tap, dy2)); // [in, out]
    }
  }
  return tf.stack(taps).reshape([kh, kw, cin, cout]) as tf.Tensor4D;
}

/**
 * Input gradient of a stride-s conv without multiplying zeros: each stride phase φ of the (padded) input receives
 * only the kernel taps φ, φ+s, …, so dx_φ is a stride-1 conv of dy with that sub-kernel, flipped. The s² phase
 * results are interleaved with two rank-4 transposes. Same work as the forward pass, where dilating dy with zeros
 * and convolving with the whole kernel costs s² times that. Returns undefined for paddings larger than a kernel
 * span (then the caller dilates).
 */
function convInputGradStrided(dy: tf.Tensor4D, filter: tf.Tensor4D, xShape: number[], stride: number, g: ConvGeometry): tf.Tensor4D | undefined {
  const [n, h, w, cin] = xShape;
  const [kh, kw, , cout] = filter.shape;
  const [, outH, outW] = dy.shape;
  const s = stride;
  const axis = (k: number, top: number, size: number, outSize: number) => {
    const q0 = Math.floor(top / s);
    const q = Math.ceil((top + size) / s) - q0;
    const phases = Array.from({ length: s }, (_, phi) => {
      const taps = Math.max(0, Math.ceil((k - phi) / s));
      const padTop = taps - 1 - q0;
      const padBottom = q - outSize - padTop + taps - 1;
      return { taps, padTop, padBottom };
    });
    return { q0, q, phases, ok: phases.every((p) => p.taps === 0 || p.padTop >= 0) };
  };
  const ah = axis(kh, g.top, h, outH);
  const aw = axis(kw, g.left, w, outW);
  if (!ah.ok || !aw.ok) return undefined;
  const w2 = filter.reshape([kh * kw, cin * cout]);
  const parts: tf.Tensor[] = [];
  for (let pw = 0; pw < s; pw++) {
    for (let ph = 0; ph < s; ph++) {
      const fh = ah.phases[ph];
      const fw = aw.phases[pw];
      if (fh.taps === 0 || fw.taps === 0) {
        parts.push(tf.zeros([n, ah.q, aw.q, cin]));
        continue;
      }
      // Sub-kernel, flipped: K[u, v] = w[ph + s·(Th−1−u), pw + s·(Tw−1−v)], gathered by a 0/1 matMul (exact).
      const sel = new Float32Array(fh.taps * fw.taps * kh * kw);
      for (let u = 0; u < fh.taps; u++) {
        for (let v = 0; v < fw.taps; v++) {
          const i = ph + s * (fh.taps - 1 - u);
          const j = pw + s * (fw.taps - 1 - v);
          sel[(u * fw.taps + v) * kh * kw + i * kw + j] = 1;
        }
      }
      const sub = tf.matMul(tf.tensor2d(sel, [fh.taps * fw.taps, kh * kw]), w2).reshape([fh.taps, fw.taps, cin, cout]);
      const subT = tf.transpose(sub, [0, 1, 3, 2]) as tf.Tensor4D;
      let part = tf.conv2d(dy, subT, 1, explicit(fh.padTop, Math.max(fh.padBottom, 0), fw.padTop, Math.max(fw.padBottom, 0)));
      if (part.shape[1] !== ah.q || part.shape[2] !== aw.q) part = tf.slice(part, [0, 0, 0, 0], [n, ah.q, aw.q, cin]);
      parts.push(part);
    }
  }
  // [s_w, s_h, n, Qh, Qw, in] → [n, Qh·s, Qw·s, in] through rank-4 transposes (rank 6 is ~50× slower on wasm).
  const stacked = tf.stack(parts).reshape([s, s * n * ah.q, aw.q, cin]);
  const colsIn = tf.transpose(stacked, [1, 2, 0, 3]).reshape([s, n, ah.q, aw.q * s * cin]);
  let dx = tf.transpose(colsIn, [1, 2, 0, 3]).reshape([n, ah.q * s, aw.q * s, cin]) as tf.Tensor4D;
  const offH = g.top - s * ah.q0;
  const offW = g.left - s * aw.q0;
  if (offH !== 0 || offW !== 0 || dx.shape[1] !== h || dx.shape[2] !== w) dx = tf.slice(dx, [0, offH, offW, 0], [n, h, w, cin]);
  return dx;
}

/**
 * Input gradient as one stride-1 correlation of the output gradient (dilated by the stride) with the flipped kernel,
 * in/out channels swapped. On the padded input grid of height h+top+bottom, rows past (outH−1)·s + kh are never
 * read by the forward pass; they and the padding rows are cut by choosing this conv's own padding.
 */
function convInputGradDilated(dy: tf.Tensor4D, filter: tf.Tensor4D, xShape: number[], stride: number, g: ConvGeometry): tf.Tensor4D {
  const [, h, w] = xShape;
  const [kh, kw] = filter.shape;
  const { top, bottom, left, right, outH, outW } = g;
  const flipped = tf.transpose(flipSpatial(filter), [0, 1, 3, 2]) as tf.Tensor4D;
  const dyd = stride === 1 ? dy : dilate(dy, stride);
  const usedH = (outH - 1) * stride + kh;
  const usedW = (outW - 1) * stride + kw;
  // Full correlation pads kh−1 on both sides; dilate() already appended stride−1 zero rows at the bottom.
  let pt = kh - 1 - top;
  let pb = kh - 1 - (stride - 1) + (h + top + bottom - usedH) - bottom;
  let pl = kw - 1 - left;
  let pr = kw - 1 - (stride - 1) + (w + left + right - usedW) - right;
  const crop = [Math.max(-pt, 0), Math.max(-pb, 0), Math.max(-pl, 0), Math.max(-pr, 0)];
  [pt, pb, pl, pr] = [Math.max(pt, 0), Math.max(pb, 0), Math.max(pl, 0), Math.max(pr, 0)];
  let dx = tf.conv2d(dyd, flipped, 1, explicit(pt, pb, pl, pr));
  if (crop.some((v) => v > 0)) {
    dx = tf.slice(dx, [0, crop[0], crop[2], 0], [-1, dx.shape[1] - crop[0] - crop[1], dx.shape[2] - crop[2] - crop[3], -1]);
  }
  return dx;
}

function conv2dOp(wShape: number[], stride: number, g: ConvGeometry, hasBias: boolean): (...t: tf.Tensor[]) => tf.Tensor {
  const [kh, kw, , cout] = wShape;
  const { top, bottom, left, right } = g;
  return customOp(([x, filter, bias], save) => {
    save([x, filter]);
    let y: tf.Tensor = tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, stride, explicit(top, bottom, left, right));
    if (hasBias) y = tf.add(y, bias);
    return {
      value: y,
      gradFunc: (dy, [x, filter]) => {
        const dy4 = dy as tf.Tensor4D;
        const strided = stride > 1 ? convInputGradStrided(dy4, filter as tf.Tensor4D, x.shape, stride, g) : undefined;
        const dx = strided ?? convInputGradDilated(dy4, filter as tf.Tensor4D, x.shape, stride, g);
        const dw = convWeightGrad(x as tf.Tensor4D, dy4, kh, kw, stride, top, left);
        const grads: tf.Tensor[] = [dx, dw];
        if (hasBias) grads.push(columnSum(dy.reshape([-1, cout]) as tf.Tensor2D));
        return grads;
      },
    };
  });
}

/** conv2d on NHWC input, kernel [kh, kw, in, out], optional bias [out]. */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, b?: tf.Tensor1D, stride = 1, padding: Conv2dPadding = 'same'): tf.Tensor4D {
  if (useReference()) return reference.conv2d(x, w, b, stride, padding);
  if (x.rank !== 4 || w.rank !== 4 || x.shape[3] !== w.shape[2] || (b && b.shape[0] !== w.shape[3]) || !Number.isInteger(stride) || stride < 1) {
    throw new InvalidArgumentError(`conv2d: x ${shapeStr(x)} (NHWC), w ${shapeStr(w)} ([kh, kw, in, out]), b ${shapeStr(b)}, stride ${stride} do not fit`);
  }
  const [n, h, wd, cin] = x.shape;
  const [kh, kw, , cout] = w.shape;
  const g = convGeometry(h, wd, kh, kw, stride, padding);
  if (g.outH < 1 || g.outW < 1 || [g.top, g.bottom, g.left, g.right].some((p) => p < 0 || !Number.isInteger(p))) {
    throw new InvalidArgumentError(`conv2d: padding ${JSON.stringify(padding)} on x ${shapeStr(x)} with kernel ${shapeStr(w)}, stride ${stride} gives no output`);
  }
  return tf.tidy(() => {
    if (kh === 1 && kw === 1 && stride === 1 && g.top + g.bottom + g.left + g.right === 0) {
      // A 1×1 conv is a linear layer over pixels: same fast matMul path, gradients included.
      return linear(x.reshape([n * h * wd, cin]), w.reshape([cin, cout]) as tf.Tensor2D, b).reshape([n, h, wd, cout]) as tf.Tensor4D;
    }
    const op = conv2dOp(w.shape, stride, g, !!b);
    return (b ? op(x, w, b) : op(x, w)) as tf.Tensor4D;
  });
}

/** Nearest-neighbour ×2 upsampling of NHWC input. */
export function upsampleNearest2x(x: tf.Tensor4D): tf.Tensor4D {
  if (useReference()) return reference.upsampleNearest2x(x);
  if (x.rank !== 4) throw new InvalidArgumentError(`upsampleNearest2x: expected NHWC, got ${shapeStr(x)}`);
  return upsampleOp(x) as tf.Tensor4D;
}

const upsampleOp = customOp(([x]) => {
  const [n, h, w, c] = x.shape;
  // [n,h,1,w,1,c] broadcast against ones [1,1,2,1,2,1]: exact.
  const y = tf.mul(x.reshape([n, h, 1, w, 1, c]), tf.ones([1, 1, 2, 1, 2, 1])).reshape([n, 2 * h, 2 * w, c]);
  return {
    value: y,
    // Each input pixel feeds a 2×2 block: the gradient is the block sum = 4·avgPool (one fast pass, exact up to
    // rounding, and free of resizeNearestNeighbor's wrong cpu gradient).
    gradFunc: (dy) => [tf.mul(tf.avgPool(dy as tf.Tensor4D, 2, 2, 'valid'), 4)],
  };
});

/**
 * Turns a boolean allow-mask [B, Lq, Lk] (1/true = may attend) into the additive bias the attention adds to its
 * scores (0 where allowed, a large negative number where blocked).
 */
export function allowMaskToBias(allow: tf.Tensor): tf.Tensor3D {
  if (useReference()) return reference.allowMaskToBias(allow);
  // (allow − 1)·1e9 rather than (1 − allow)·−1e9: allowed entries become +0, not −0.
  return tf.tidy(() => tf.mul(tf.sub(tf.cast(allow, 'float32'), 1), 1e9) as tf.Tensor3D);
}

// ---------------------------------------------------------------------------------------------------------------
// attention

/** [B, L, H·D] → B·H tensors [L, D] (order b-major, then head). */
function headsOf(x: tf.Tensor, b: number, l: number, h: number, d: number): tf.Tensor[] {
  return unstack0(tf.transpose(x.reshape([b, l, h, d]), [0, 2, 1, 3]).reshape([b * h, l, d]));
}
/** [B, L, H·D] → B·H tensors [D, L] (transposed heads, for products with the transpose on the right). */
function headsOfT(x: tf.Tensor, b: number, l: number, h: number, d: number): tf.Tensor[] {
  return unstack0(tf.transpose(x.reshape([b, l, h, d]), [0, 2, 3, 1]).reshape([b * h, d, l]));
}
/** B·H tensors [L, D] → [B, L, H·D]. */
function mergeHeads(parts: tf.Tensor[], b: number, l: number, h: number, d: number): tf.Tensor {
  return tf.transpose(tf.stack(parts).reshape([b, h, l, d]), [0, 2, 1, 3]).reshape([b, l, h * d]);
}

function attentionOp(b: number, lq: number, lk: number, h: number, d: number): (...t: tf.Tensor[]) => tf.Tensor {
  const scale = 1 / Math.sqrt(d);
  const bh = b * h;
  return customOp(([q, k, v, bias], save) => {
    const qs = tf.mul(q, scale); // scaling q (Lq·H·D values) is cheaper than scaling the scores (H·Lq·Lk)
    const qh = headsOf(qs, b, lq, h, d);
    const kt = headsOfT(k, b, lk, h, d);
    const vh = headsOf(v, b, lk, h, d);
    const biasB = unstack0(bias); // [Lq, Lk] per sample
    // Per head, on 2-D tensors: same-shape adds and a 2-D softmax are faster on wasm than one broadcasting add and
    // softmax over [B, H, Lq, Lk], and no stacking/unstacking of the big score tensors is needed.
    const probs = qh.map((qi, i) => tf.softmax(tf.add(tf.matMul(qi, kt[i]), biasB[Math.floor(i / h)])));
    const out = mergeHeads(probs.map((pi, i) => tf.matMul(pi, vh[i])), b, lq, h, d);
    save([qs, k, v, out, ...probs]);
    return {
      value: out,
      gradFunc: (dy, saved) => {
        const [qs, k, v, out] = saved;
        const probs = saved.slice(4);
        const doh = headsOf(dy, b, lq, h, d);
        const vt = headsOfT(v, b, lk, h, d);
        const kh = headsOf(k, b, lk, h, d);
        const qh = headsOf(qs, b, lq, h, d);
        // softmax backward: dS = P ⊙ (dP − Σ_j P·dP), and Σ_j P_ij·dP_ij = dO_i·O_i — a sum over D instead of Lk.
        const rowDot = unstack0(tf.transpose(tf.sum(tf.mul(dy, out).reshape([b, lq, h, d]), -1), [0, 2, 1]).reshape([bh, lq, 1]));
        const dq: tf.Tensor[] = [];
        const dk: tf.Tensor[] = [];
        const dv: tf.Tensor[] = [];
        const dsPerSample: tf.Tensor[][] = Array.from({ length: b }, () => []);
        for (let i = 0; i < bh; i++) {
          const p = probs[i];
          const ds = tf.mul(p, tf.sub(tf.matMul(doh[i], vt[i]), rowDot[i]));
          dv.push(tf.matMul(tf.transpose(p), doh[i])); // Pᵀ·dO
          dq.push(tf.matMul(ds, kh[i])); // dS·K (times scale below)
          dk.push(tf.matMul(tf.transpose(ds), qh[i])); // dSᵀ·(scale·Q)
          dsPerSample[Math.floor(i / h)].push(ds);
        }
        return [
          tf.mul(mergeHeads(dq, b, lq, h, d), scale),
          mergeHeads(dk, b, lk, h, d),
          mergeHeads(dv, b, lk, h, d),
          tf.stack(dsPerSample.map((list) => (list.length === 1 ? list[0] : tf.addN(list)))), // Σ_heads dS
        ];
      },
    };
  });
}

/**
 * Multi-head scaled dot-product attention. q [B, Lq, H·D], k and v [B, Lk, H·D] (heads concatenated along the
 * last axis, as projections produce them), bias [B, Lq, Lk] additive (see {@link allowMaskToBias}) →
 * [B, Lq, H·D]. With a KV cache, k and v hold the cached keys followed by the new ones (Lk ≥ Lq).
 *
 * Runs one plain 2-D matMul per (batch, head) in both directions (batched matMul is ~15× slower on wasm). The
 * gradient reaches q, k, v and bias (the bias gradient is the head-sum of the score gradient).
 */
export function multiHeadAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, bias: tf.Tensor3D, numHeads: number): tf.Tensor3D {
  if (useReference()) return reference.multiHeadAttention(q, k, v, bias, numHeads);
  const [b, lq, hd] = q.shape;
  const lk = k.shape[1];
  if (
    q.rank !== 3 || k.rank !== 3 || v.rank !== 3 || bias.rank !== 3 || !Number.isInteger(numHeads) || numHeads < 1 || hd % numHeads !== 0 ||
    k.shape[0] !== b || v.shape[0] !== b || k.shape[2] !== hd || v.shape[2] !== hd || v.shape[1] !== lk ||
    bias.shape[0] !== b || bias.shape[1] !== lq || bias.shape[2] !== lk
  ) {
    throw new InvalidArgumentError(
      `multiHeadAttention: q ${shapeStr(q)}, k ${shapeStr(k)}, v ${shapeStr(v)}, bias ${shapeStr(bias)}, ${numHeads} heads do not fit ` +
        '(expected q [B, Lq, H·D], k and v [B, Lk, H·D], bias [B, Lq, Lk], H·D divisible by the head count)',
    );
  }
  if (lq === 1) return singleQueryAttention(q, k, v, bias, numHeads);
  return attentionOp(b, lq, lk, numHeads, hd / numHeads)(q, k, v, bias) as tf.Tensor3D;
}

/** [H·D, H] 0/1: column h selects the D channels of head h. */
function headSelector(h: number, d: number): tf.Tensor2D {
  const sel = new Float32Array(h * d * h);
  for (let i = 0; i < h * d; i++) sel[i * h + Math.floor(i / d)] = 1;
  return tf.tensor2d(sel, [h * d, h]);
}

/**
 * Attention of ONE query position per row (KV-cache decoding), all heads at once with plain 2-D matMuls whose
 * right operands are tiny (XNNPACK packs the right operand of every new tensor, and per-head products against a
 * fresh [D, Lk] key block cost ~20× their arithmetic):
 *   scores [Lk, H] = K [Lk, H·D] · (q ⊙ selector) [H·D, H]        (block-diagonal q: head h sees its D channels)
 *   probs  [H, Lk] = softmax(scoresᵀ + bias)
 *   outᵀ   [H·D, H] = Vᵀ [H·D, Lk] · probsᵀ [Lk, H];  out = (outᵀ ⊙ selector) · 1   (the diagonal blocks)
 * Bit-identical to the per-head path: the extra terms are exact zeros (x·0 = ±0 and a + ±0 = a) and every dot
 * product still accumulates its real terms in the same order. Differentiable through tfjs's built-in gradients
 * (decoding is not training; a one-position training step is merely slow).
 */
function singleQueryAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, bias: tf.Tensor3D, h: number): tf.Tensor3D {
  const [b, , hd] = q.shape;
  const lk = k.shape[1];
  const d = hd / h;
  return tf.tidy(() => {
    const sel = headSelector(h, d);
    const ones = tf.ones([h, 1]);
    const qs = tf.mul(q, 1 / Math.sqrt(d)).reshape([b, hd]); // as attentionOp: scale q, not the scores
    const qRows = b === 1 ? [qs.reshape([hd, 1])] : unstack0(qs).map((r) => r.reshape([hd, 1]));
    const kRows = b === 1 ? [k.reshape([lk, hd])] : unstack0(k);
    const vRows = b === 1 ? [v.reshape([lk, hd])] : unstack0(v);
    const biasRows = b === 1 ? [bias.reshape([1, lk])] : unstack0(bias);
    const outs = qRows.map((qr, r) => {
      const scores = tf.matMul(kRows[r], tf.mul(qr, sel)); // [Lk, H]
      const probs = tf.softmax(tf.add(tf.transpose(scores), biasRows[r])); // [H, Lk]
      const outT = tf.matMul(tf.transpose(vRows[r]), tf.transpose(probs)); // [H·D, H]
      return tf.matMul(tf.mul(outT, sel), ones).reshape([1, 1, hd]);
    });
    return (outs.length === 1 ? outs[0] : tf.concat(outs, 0)) as tf.Tensor3D;
  });
}

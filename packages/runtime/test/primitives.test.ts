/**
 * Proof of correctness of the fast primitives (packages/runtime/src/ops/primitives.ts):
 * 1. on `cpu`, forward and gradients equal the reference compositions of tfjs built-in ops (ops/reference.ts);
 * 2. on `cpu`, gradients equal central finite differences (the arbiter: some built-in tfjs gradients are wrong);
 * 3. on `wasm`, forward and gradients equal the `cpu` results;
 * 4. forward and backward leave `tf.memory().numTensors` unchanged once outputs are disposed.
 * Shapes are tiny so the whole file runs in seconds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { InvalidArgumentError } from '../src/errors.js';
import { SeededRandom } from '../src/random.js';
import * as fast from '../src/ops/primitives.js';
import * as ref from '../src/ops/reference.js';
import { unstack0 } from '../src/ops/kernels.js';

interface InputSpec {
  shape: number[];
  /** int32 ids in [0, maxInt). */
  maxInt?: number;
  /** Fixed values (else standard normal, scaled by `scale`). */
  values?: number[];
  scale?: number;
  /** Differentiate with respect to this input (default: float inputs). */
  grad?: boolean;
}

interface Case {
  name: string;
  inputs: InputSpec[];
  fast: (...t: tf.Tensor[]) => tf.Tensor;
  ref: (...t: tf.Tensor[]) => tf.Tensor;
  /** Finite-difference step (inputs are ~N(0,1)). */
  fdStep?: number;
}

interface Data {
  values: Float32Array | Int32Array;
  shape: number[];
  int: boolean;
  grad: boolean;
}

function makeData(c: Case, seed: number): Data[] {
  const rng = new SeededRandom(seed);
  return c.inputs.map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const int = s.maxInt !== undefined;
    let values: Float32Array | Int32Array;
    if (s.values) values = int ? Int32Array.from(s.values) : Float32Array.from(s.values);
    else if (int) values = Int32Array.from({ length: n }, () => rng.int(s.maxInt!));
    else values = Float32Array.from({ length: n }, () => rng.normal() * (s.scale ?? 1));
    return { values, shape: s.shape, int, grad: s.grad ?? !int };
  });
}

function toTensors(data: Data[]): tf.Tensor[] {
  return data.map((d) => tf.tensor(d.values, d.shape, d.int ? 'int32' : 'float32'));
}

/** Fixed random weights R for the scalar loss L = Σ f(x)·R (so every output element matters differently). */
function lossWeights(shape: number[], seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
}

interface Result {
  y: Float32Array;
  shape: number[];
  grads: Float32Array[];
}

/** Forward value and gradients of L = Σ f(inputs)·R with respect to the differentiable inputs. */
function evaluate(f: (...t: tf.Tensor[]) => tf.Tensor, data: Data[]): Result {
  const inputs = toTensors(data);
  const gradIdx = data.map((d, i) => (d.grad ? i : -1)).filter((i) => i >= 0);
  const y = f(...inputs);
  const yv = y.dataSync() as Float32Array;
  const shape = y.shape.slice();
  const r = tf.tensor(lossWeights(shape, 99), shape);
  y.dispose();
  const g = tf.grads((...xs: tf.Tensor[]) => {
    const all = inputs.slice();
    gradIdx.forEach((idx, j) => (all[idx] = xs[j]));
    return tf.sum(tf.mul(f(...all), r));
  });
  const gs = g(gradIdx.map((i) => inputs[i]));
  const grads = gs.map((t) => t.dataSync() as Float32Array);
  tf.dispose([...gs, r, ...inputs]);
  return { y: Float32Array.from(yv), shape, grads: grads.map((a) => Float32Array.from(a)) };
}

function lossOf(f: (...t: tf.Tensor[]) => tf.Tensor, data: Data[], r: Float32Array): number {
  return tf.tidy(() => {
    const inputs = toTensors(data);
    const y = f(...inputs);
    return tf.sum(tf.mul(y, tf.tensor(r, y.shape))).dataSync()[0];
  });
}

function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let scale = 1e-6;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let err = 0;
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
  return err / Math.max(scale, 1);
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  const e = maxRelErr(a, b);
  assert.ok(e <= tol, `${what}: max error ${e.toExponential(2)} (relative to max(1, max|expected|)) > ${tol}`);
}

/**
 * Central finite differences of L on up to `maxCoords` coordinates of each differentiable input (all of them for
 * tiny inputs), compared with the analytic gradient.
 */
function checkFiniteDifferences(c: Case, data: Data[], grads: Float32Array[], shape: number[], maxCoords = 24): void {
  const r = lossWeights(shape, 99);
  const h = c.fdStep ?? 1e-2;
  const rng = new SeededRandom(7);
  let gi = 0;
  for (let i = 0; i < data.length; i++) {
    if (!data[i].grad) continue;
    const g = grads[gi++];
    const n = data[i].values.length;
    const coords = n <= maxCoords ? [...Array(n).keys()] : Array.from({ length: maxCoords }, () => rng.int(n));
    let gscale = 0;
    for (const v of g) gscale = Math.max(gscale, Math.abs(v));
    for (const j of coords) {
      const plus = data.map((d) => ({ ...d, values: d.values.slice() }));
      const minus = data.map((d) => ({ ...d, values: d.values.slice() }));
      plus[i].values[j] += h;
      minus[i].values[j] -= h;
      const fd = (lossOf(c.fast, plus, r) - lossOf(c.fast, minus, r)) / (2 * h);
      // float32 loss, step 1e-2: truncation O(h²·f''') and rounding O(1e-7·|L|/h) — both well under 1e-2·scale.
      const tol = 5e-3 + 1e-2 * Math.max(1, gscale);
      assert.ok(Math.abs(fd - g[j]) <= tol, `${c.name}: d/d input${i}[${j}] analytic ${g[j]} vs finite difference ${fd}`);
    }
  }
}

const randAllow = (b: number, lq: number, lk: number, seed: number): number[] => {
  // Causal with a KV-cache offset, plus some random blocks; every row keeps at least its own position.
  const rng = new SeededRandom(seed);
  const out: number[] = [];
  for (let bi = 0; bi < b; bi++)
    for (let i = 0; i < lq; i++)
      for (let j = 0; j < lk; j++) {
        const causal = j <= i + (lk - lq);
        out.push(causal && (j === i + (lk - lq) || rng.next() > 0.3) ? 1 : 0);
      }
  return out;
};

function attentionCase(name: string, b: number, lq: number, lk: number, h: number, d: number, allow?: number[]): Case {
  return {
    name,
    inputs: [
      { shape: [b, lq, h * d] },
      { shape: [b, lk, h * d] },
      { shape: [b, lk, h * d] },
      allow ? { shape: [b, lq, lk], values: allow.map((a) => (a ? 0 : -1e9)) } : { shape: [b, lq, lk], scale: 0.5 },
    ],
    fast: (q, k, v, bias) => fast.multiHeadAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, bias as tf.Tensor3D, h),
    ref: (q, k, v, bias) => ref.multiHeadAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, bias as tf.Tensor3D, h),
  };
}

function convCase(name: string, x: number[], w: number[], bias: boolean, stride: number, padding: fast.Conv2dPadding): Case {
  const inputs: InputSpec[] = [{ shape: x }, { shape: w, scale: 0.5 }];
  if (bias) inputs.push({ shape: [w[3]] });
  return {
    name,
    inputs,
    fast: (xx, ww, bb) => fast.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, bb as tf.Tensor1D | undefined, stride, padding),
    ref: (xx, ww, bb) => ref.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, bb as tf.Tensor1D | undefined, stride, padding),
  };
}

const CASES: Case[] = [
  {
    name: 'linear with bias, rank-3 x',
    inputs: [{ shape: [2, 3, 4] }, { shape: [4, 5] }, { shape: [5] }],
    fast: (x, w, b) => fast.linear(x, w as tf.Tensor2D, b as tf.Tensor1D),
    ref: (x, w, b) => ref.linear(x, w as tf.Tensor2D, b as tf.Tensor1D),
  },
  {
    name: 'linear without bias',
    inputs: [{ shape: [3, 4] }, { shape: [4, 6] }],
    fast: (x, w) => fast.linear(x, w as tf.Tensor2D),
    ref: (x, w) => ref.linear(x, w as tf.Tensor2D),
  },
  {
    name: 'linearTransposed (weight [out, in])',
    inputs: [{ shape: [2, 3, 4] }, { shape: [5, 4] }, { shape: [5] }],
    fast: (x, w, b) => fast.linearTransposed(x, w as tf.Tensor2D, b as tf.Tensor1D),
    ref: (x, w, b) => ref.linear(x, tf.transpose(w) as tf.Tensor2D, b as tf.Tensor1D),
  },
  {
    name: 'linearTransposed with few rows (transposes x instead of w)',
    inputs: [{ shape: [1, 2, 3] }, { shape: [9, 3] }],
    fast: (x, w) => fast.linearTransposed(x, w as tf.Tensor2D),
    ref: (x, w) => ref.linear(x, tf.transpose(w) as tf.Tensor2D),
  },
  {
    name: 'matMul2d with transpose flags',
    inputs: [{ shape: [4, 3] }, { shape: [5, 4] }],
    fast: (a, b) => fast.matMul2d(a as tf.Tensor2D, b as tf.Tensor2D, true, true),
    ref: (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, true, true),
  },
  {
    name: 'embedding (repeated ids)',
    inputs: [{ shape: [2, 3], maxInt: 7, values: [1, 4, 1, 6, 0, 1] }, { shape: [7, 4] }],
    fast: (ids, t) => fast.embedding(ids, t as tf.Tensor2D),
    ref: (ids, t) => ref.embedding(ids, t as tf.Tensor2D),
  },
  {
    name: 'layerNorm',
    inputs: [{ shape: [2, 3, 8] }, { shape: [8] }, { shape: [8] }],
    fast: (x, g, b) => fast.layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D),
    ref: (x, g, b) => ref.layerNorm(x, g as tf.Tensor1D, b as tf.Tensor1D),
  },
  {
    name: 'groupNorm n=2',
    inputs: [{ shape: [2, 3, 2, 8] }, { shape: [8] }, { shape: [8] }],
    fast: (x, g, b) => fast.groupNorm(x as tf.Tensor4D, 4, g as tf.Tensor1D, b as tf.Tensor1D),
    ref: (x, g, b) => ref.groupNorm(x as tf.Tensor4D, 4, g as tf.Tensor1D, b as tf.Tensor1D),
  },
  {
    name: 'groupNorm n=1, eps 1e-5',
    inputs: [{ shape: [1, 3, 3, 6] }, { shape: [6] }, { shape: [6] }],
    fast: (x, g, b) => fast.groupNorm(x as tf.Tensor4D, 2, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5),
    ref: (x, g, b) => ref.groupNorm(x as tf.Tensor4D, 2, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5),
  },
  {
    name: 'geluTanh',
    inputs: [{ shape: [3, 9], scale: 2 }],
    fast: (x) => fast.geluTanh(x),
    ref: (x) => ref.geluTanh(x),
  },
  {
    name: 'silu',
    inputs: [{ shape: [3, 9], scale: 2 }],
    fast: (x) => fast.silu(x),
    ref: (x) => ref.silu(x),
  },
  convCase('conv2d 3×3 stride 1 same + bias', [2, 5, 6, 3], [3, 3, 3, 4], true, 1, 'same'),
  convCase('conv2d 3×3 stride 1 valid', [1, 5, 5, 2], [3, 3, 2, 3], false, 1, 'valid'),
  convCase('conv2d 3×3 stride 2 pad [[0,1],[0,1]] (MAGVIT Downsample)', [2, 6, 6, 3], [3, 3, 3, 4], true, 2, [[0, 1], [0, 1]]),
  convCase('conv2d 3×3 stride 2 same, odd size', [1, 7, 5, 2], [3, 3, 2, 3], true, 2, 'same'),
  convCase('conv2d 3×3 stride 2 valid (unused last row)', [1, 8, 8, 2], [3, 3, 2, 2], false, 2, 'valid'),
  convCase('conv2d 1×1 stride 1 (matMul path) + bias', [2, 3, 4, 5], [1, 1, 5, 3], true, 1, 'valid'),
  convCase('conv2d 1×1 stride 2', [1, 5, 4, 3], [1, 1, 3, 2], false, 2, 'valid'),
  convCase('conv2d 4×4 stride 2 explicit [[2,1],[1,2]]', [1, 6, 6, 2], [4, 4, 2, 2], false, 2, [[2, 1], [1, 2]]),
  convCase('conv2d 3×3 stride 2 pad [[3,0],[0,3]] (padding wider than the kernel)', [1, 5, 5, 2], [3, 3, 2, 2], true, 2, [[3, 0], [0, 3]]),
  convCase('conv2d 3×3 stride 3 same, batch 3', [3, 7, 8, 2], [3, 3, 2, 3], false, 3, 'same'),
  {
    name: 'upsampleNearest2x',
    inputs: [{ shape: [2, 2, 3, 3] }],
    fast: (x) => fast.upsampleNearest2x(x as tf.Tensor4D),
    ref: (x) => ref.upsampleNearest2x(x as tf.Tensor4D),
  },
  attentionCase('attention self, additive bias, 2 heads', 2, 4, 4, 2, 3),
  attentionCase('attention partly-blocked mask, KV cache Lk > Lq', 2, 3, 5, 2, 3, randAllow(2, 3, 5, 3)),
  attentionCase('attention 1 head, 1 batch, causal', 1, 4, 4, 1, 4, randAllow(1, 4, 4, 4)),
  attentionCase('attention one query (KV-cache decoding path), 2 rows, 3 heads', 2, 1, 5, 3, 2, randAllow(2, 1, 5, 5)),
];

let wasmAvailable = false;

before(async () => {
  try {
    await initBackend('wasm');
    wasmAvailable = true;
  } catch {
    wasmAvailable = false;
  }
  await tf.setBackend('cpu');
});

after(async () => {
  await tf.setBackend('cpu');
});

describe('primitives on cpu: fast == reference, gradients == finite differences', () => {
  for (const [ci, c] of CASES.entries()) {
    it(c.name, async () => {
      await tf.setBackend('cpu');
      const data = makeData(c, 100 + ci);
      const f = evaluate(c.fast, data);
      const r = evaluate(c.ref, data);
      assert.deepEqual(f.shape, r.shape);
      assertClose(f.y, r.y, 1e-5, `${c.name} forward`);
      f.grads.forEach((g, i) => assertClose(g, r.grads[i], 1e-4, `${c.name} gradient ${i}`));
      checkFiniteDifferences(c, data, f.grads, f.shape);
    });
  }
});

describe('primitives on wasm == cpu', () => {
  for (const [ci, c] of CASES.entries()) {
    it(c.name, async (t) => {
      if (!wasmAvailable) return t.skip('wasm backend not available');
      const data = makeData(c, 100 + ci);
      await tf.setBackend('cpu');
      const onCpu = evaluate(c.fast, data);
      await tf.setBackend('wasm');
      const onWasm = evaluate(c.fast, data);
      await tf.setBackend('cpu');
      assertClose(onWasm.y, onCpu.y, 1e-5, `${c.name} forward`);
      onWasm.grads.forEach((g, i) => assertClose(g, onCpu.grads[i], 1e-4, `${c.name} gradient ${i}`));
    });
  }
});

describe('no tensor leaks', () => {
  for (const backend of ['cpu', 'wasm']) {
    it(`forward and backward of every primitive leave numTensors unchanged (${backend})`, async (t) => {
      if (backend === 'wasm' && !wasmAvailable) return t.skip('wasm backend not available');
      await tf.setBackend(backend);
      for (const [ci, c] of CASES.entries()) {
        const inputs = toTensors(makeData(c, 100 + ci));
        const before = tf.memory().numTensors;
        const y = c.fast(...inputs);
        y.dispose();
        const diff = inputs.map((d, i) => (d.dtype === 'float32' ? i : -1)).filter((i) => i >= 0);
        const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => {
          const all = inputs.slice();
          diff.forEach((idx, j) => (all[idx] = xs[j]));
          return tf.sum(c.fast(...all));
        })(diff.map((i) => inputs[i]));
        tf.dispose([value, ...grads]);
        assert.equal(tf.memory().numTensors, before, `${c.name} leaked ${tf.memory().numTensors - before} tensors on ${backend}`);
        tf.dispose(inputs);
      }
      await tf.setBackend('cpu');
    });
  }
});

describe('kernels registered for wasm', () => {
  it('tf.gather is differentiable on wasm (UnsortedSegmentSum) and unstack0 splits exactly', async (t) => {
    if (!wasmAvailable) return t.skip('wasm backend not available');
    await tf.setBackend('wasm');
    const table = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
    const ids = tf.tensor1d([2, 0, 2], 'int32');
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, ids)))(table);
    assert.deepEqual(Array.from(g.dataSync()), [1, 1, 0, 0, 2, 2]);
    const x = tf.range(0, 24).reshape([4, 3, 2]);
    const parts = unstack0(x);
    assert.equal(parts.length, 4);
    assert.deepEqual(parts[3].shape, [3, 2]);
    assert.deepEqual(Array.from(parts[3].dataSync()), [18, 19, 20, 21, 22, 23]);
    const gu = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(unstack0(t)[1], 2)))(x);
    assert.deepEqual(Array.from(gu.dataSync()), [...Array(6).fill(0), ...Array(6).fill(2), ...Array(12).fill(0)]);
    const bad = tf.tensor1d([1, 3], 'int32');
    assert.throws(() => fast.embedding(bad, table), /outside \[0, 3\)/);
    tf.dispose([table, ids, g, x, ...parts, gu, bad]);
    await tf.setBackend('cpu');
  });

  it('one-query attention (all heads in one product) is bit-identical to the per-head path', async (t) => {
    if (!wasmAvailable) return t.skip('wasm backend not available');
    await tf.setBackend('wasm');
    for (const [b, lk, h, d] of [[1, 37, 8, 32], [2, 19, 4, 16], [3, 1, 2, 8]]) {
      const q = tf.randomNormal([b, 1, h * d], 0, 2, 'float32', 1) as tf.Tensor3D;
      const k = tf.randomNormal([b, lk, h * d], 0, 2, 'float32', 2) as tf.Tensor3D;
      const v = tf.randomNormal([b, lk, h * d], 0, 1, 'float32', 3) as tf.Tensor3D;
      const blocked = tf.randomUniform([b, 1, lk], 0, 1, 'float32', 4);
      const bias = tf.tidy(() => tf.mul(tf.cast(tf.greater(blocked, 0.7), 'float32'), -1e9).add(tf.zeros([b, 1, lk])) as tf.Tensor3D);
      const one = fast.multiHeadAttention(q, k, v, bias, h);
      // The same query twice takes the per-head path (Lq = 2); its first row is the reference.
      const two = tf.tidy(() => fast.multiHeadAttention(tf.concat([q, q], 1) as tf.Tensor3D, k, v, tf.concat([bias, bias], 1) as tf.Tensor3D, h).slice([0, 0, 0], [b, 1, h * d]));
      assert.deepEqual(Array.from(one.dataSync()), Array.from(two.dataSync()), `b ${b}, lk ${lk}, ${h}×${d}`);
      tf.dispose([q, k, v, blocked, bias, one, two]);
    }
    await tf.setBackend('cpu');
  });

  it('geluTanh and silu stay finite and match the reference at large |x| (cpu and wasm)', async () => {
    const values = [-80, -30, -10, -3, -0.5, 0, 0.5, 3, 10, 30, 80];
    for (const backend of wasmAvailable ? ['cpu', 'wasm'] : ['cpu']) {
      await tf.setBackend(backend);
      const x = tf.tensor1d(values);
      for (const [name, f, r] of [
        ['geluTanh', fast.geluTanh, ref.geluTanh],
        ['silu', fast.silu, ref.silu],
      ] as const) {
        const [y, yr, g] = [f(x), r(x), tf.grad((v: tf.Tensor) => tf.sum(f(v)))(x)];
        assert.ok(Array.from(g.dataSync()).every(Number.isFinite), `${name} gradient on ${backend}`);
        assertClose(y.dataSync(), yr.dataSync(), 1e-6, `${name} on ${backend}`);
        tf.dispose([y, yr, g]);
      }
      x.dispose();
    }
    await tf.setBackend('cpu');
  });

  it('columnSum sums rows', () => {
    const s = fast.columnSum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]));
    assert.deepEqual(Array.from(s.dataSync()), [9, 12]);
    s.dispose();
  });
});

describe('argument checks', () => {
  it('shape mismatches throw InvalidArgumentError naming the shapes', () => {
    tf.tidy(() => {
      const expectErr = (f: () => unknown, pattern: RegExp) =>
        assert.throws(f, (e: unknown) => e instanceof InvalidArgumentError && pattern.test((e as Error).message));
      expectErr(() => fast.linear(tf.zeros([2, 3]), tf.zeros([4, 5])), /\[2, 3\].*\[4, 5\]/);
      expectErr(() => fast.linear(tf.zeros([2, 4]), tf.zeros([4, 5]), tf.zeros([3])), /b \[3\]/);
      expectErr(() => fast.matMul2d(tf.zeros([2, 3]), tf.zeros([2, 3])), /\[2, 3\]/);
      expectErr(() => fast.layerNorm(tf.zeros([2, 4]), tf.zeros([3]), tf.zeros([4])), /\[2, 4\]/);
      expectErr(() => fast.groupNorm(tf.zeros([1, 2, 2, 6]), 4, tf.zeros([6]), tf.zeros([6])), /4 groups/);
      expectErr(() => fast.conv2d(tf.zeros([1, 4, 4, 3]), tf.zeros([3, 3, 2, 4])), /\[3, 3, 2, 4\]/);
      expectErr(() => fast.embedding(tf.zeros([2], 'int32'), tf.zeros([4]) as unknown as tf.Tensor2D), /\[4\]/);
      expectErr(
        () => fast.multiHeadAttention(tf.zeros([1, 2, 6]), tf.zeros([1, 3, 6]), tf.zeros([1, 3, 6]), tf.zeros([1, 2, 2]), 2),
        /bias \[1, 2, 2\]/,
      );
      expectErr(() => fast.multiHeadAttention(tf.zeros([1, 2, 6]), tf.zeros([1, 2, 6]), tf.zeros([1, 2, 6]), tf.zeros([1, 2, 2]), 4), /4 heads/);
    });
  });

  it('allowMaskToBias: 0 where allowed, -1e9 where blocked', () => {
    const b = fast.allowMaskToBias(tf.tensor3d([1, 0, 0, 1], [1, 2, 2], 'bool'));
    assert.deepEqual(Array.from(b.dataSync()), [0, -1e9, -1e9, 0]);
    b.dispose();
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '@showo/runtime';
import { crossEntropy, IGNORE_INDEX, showoLosses } from '@showo/trainer';
import { useWasm } from './helpers.js';

/** Float64 mean CE over (row, label) pairs, label −100 skipped. */
function naiveCe(logits: Float32Array, V: number, pairs: Array<[number, number]>): number {
  let sum = 0;
  let n = 0;
  for (const [row, label] of pairs) {
    if (label === IGNORE_INDEX) continue;
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[row * V + v]);
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(logits[row * V + v] - max);
    sum += -(logits[row * V + label] - max - Math.log(z));
    n++;
  }
  return n ? sum / n : 0;
}

function synthetic(B: number, L: number, V: number, seed: number) {
  const r = new SeededRandom(seed);
  const logits = new Float32Array(B * L * V).map(() => 4 * r.normal());
  const labels = new Int32Array(B * L).map(() => (r.next() < 0.4 ? IGNORE_INDEX : r.int(V)));
  return { logits, labels };
}

test('showoLosses equals a naive float64 computation with the official slicing and shifts', async () => {
  await useWasm();
  const [bt, bl, bm, L, V, msl] = [2, 1, 2, 20, 37, 6];
  const B = bt + bl + bm;
  const { logits, labels } = synthetic(B, L, V, 1);
  const t2i: Array<[number, number]> = [];
  const lm: Array<[number, number]> = [];
  const mmu: Array<[number, number]> = [];
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) {
      if (b < bt) {
        if (i >= msl + 1) t2i.push([b * L + i, labels[b * L + i]]); // not shifted
      } else if (i < L - 1) {
        (b < bt + bl ? lm : mmu).push([b * L + i, labels[b * L + i + 1]]); // shifted
      }
    }
  }
  const x = tf.tensor3d(logits, [B, L, V]);
  const coefficients = { t2i: 1, lm: 0.1, mmu: 0.7 };
  const l = showoLosses(x, labels, { batchT2i: bt, batchLm: bl, batchMmu: bm, maxSeqLength: msl, coefficients });
  const [a, b, c, tot] = [l.t2i, l.lm, l.mmu, l.total].map((s) => s.dataSync()[0]);
  const ref = { t2i: naiveCe(logits, V, t2i), lm: naiveCe(logits, V, lm), mmu: naiveCe(logits, V, mmu) };
  assert.ok(Math.abs(a - ref.t2i) < 1e-5, `t2i ${a} vs ${ref.t2i}`);
  assert.ok(Math.abs(b - ref.lm) < 1e-5, `lm ${b} vs ${ref.lm}`);
  assert.ok(Math.abs(c - ref.mmu) < 1e-5, `mmu ${c} vs ${ref.mmu}`);
  assert.ok(Math.abs(tot - (ref.t2i + 0.1 * ref.lm + 0.7 * ref.mmu)) < 2e-5);
  assert.equal(l.counts.t2i, t2i.filter((p) => p[1] !== IGNORE_INDEX).length);
  tf.dispose([x, l.t2i, l.lm, l.mmu, l.total]);
});

test('the cross-entropy gradient is (softmax − one-hot) / count on labelled rows and 0 elsewhere', async () => {
  await useWasm();
  const [R, V] = [6, 5];
  const { logits, labels } = synthetic(1, R, V, 2);
  labels[0] = IGNORE_INDEX;
  labels[1] = 3;
  const n = [...labels].filter((t) => t !== IGNORE_INDEX).length;
  const x = tf.tensor2d(logits, [R, V]);
  const g = tf.grad((t: tf.Tensor) => crossEntropy(t, labels))(x);
  const got = g.dataSync();
  for (let r = 0; r < R; r++) {
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[r * V + v]);
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(logits[r * V + v] - max);
    for (let v = 0; v < V; v++) {
      const p = Math.exp(logits[r * V + v] - max) / z;
      const want = labels[r] === IGNORE_INDEX ? 0 : (p - (v === labels[r] ? 1 : 0)) / n;
      assert.ok(Math.abs(got[r * V + v] - want) < 1e-6, `grad[${r}][${v}] ${got[r * V + v]} vs ${want}`);
    }
  }
  tf.dispose([x, g]);
});

test('parts without rows are 0 (not NaN), bad labels and layouts are refused', async () => {
  await useWasm();
  const x = tf.zeros([2, 4, 3]) as tf.Tensor3D;
  const l = showoLosses(x, [[-100, 1, 2, 0], [0, 1, 2, -100]], { batchT2i: 0, batchLm: 2, batchMmu: 0, maxSeqLength: 1 });
  assert.equal(l.t2i.dataSync()[0], 0);
  assert.ok(Math.abs(l.lm.dataSync()[0] - Math.log(3)) < 1e-6);
  tf.dispose([l.t2i, l.lm, l.mmu, l.total]);
  assert.throws(() => showoLosses(x, new Int32Array(8), { batchT2i: 1, batchLm: 0, batchMmu: 0, maxSeqLength: 1 }), /do not add up/);
  assert.throws(() => showoLosses(x, new Int32Array(8).fill(7), { batchT2i: 0, batchLm: 2, batchMmu: 0, maxSeqLength: 1 }), /outside the vocabulary/);
  x.dispose();
});

test('the gradient of the weighted total is each part\'s (softmax − one-hot) / count times its coefficient', async () => {
  await useWasm();
  const [bt, bl, bm, L, V, msl] = [1, 1, 1, 6, 5, 2];
  const B = bt + bl + bm;
  const { logits, labels } = synthetic(B, L, V, 4);
  const c = { t2i: 1, lm: 0.1, mmu: 0.5 };
  const x = tf.tensor3d(logits, [B, L, V]);
  const g = tf.grad((t: tf.Tensor) => showoLosses(t as tf.Tensor3D, labels, { batchT2i: bt, batchLm: bl, batchMmu: bm, maxSeqLength: msl, coefficients: c }).total)(x);
  const got = g.dataSync();
  // Row (b, i) → its target and part, as showoLosses pairs them.
  const target = (b: number, i: number) => (b === 0 ? (i >= msl + 1 ? labels[b * L + i] : IGNORE_INDEX) : i < L - 1 ? labels[b * L + i + 1] : IGNORE_INDEX);
  const count = [0, 1, 2].map((b) => Array.from({ length: L }, (_, i) => target(b, i)).filter((t) => t !== IGNORE_INDEX).length);
  const coeff = [c.t2i, c.lm, c.mmu];
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) {
      const r = b * L + i;
      const t = target(b, i);
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, logits[r * V + v]);
      let z = 0;
      for (let v = 0; v < V; v++) z += Math.exp(logits[r * V + v] - max);
      for (let v = 0; v < V; v++) {
        const want = t === IGNORE_INDEX ? 0 : (coeff[b] * (Math.exp(logits[r * V + v] - max) / z - (v === t ? 1 : 0))) / count[b];
        assert.ok(Math.abs(got[r * V + v] - want) < 1e-6, `grad[${b}][${i}][${v}] ${got[r * V + v]} vs ${want}`);
      }
    }
  }
  tf.dispose([x, g]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '@showo/runtime';
import { AdamW, clipByGlobalNorm, clipByGroupNorms, learningRate, validateSchedule } from '@showo/trainer';
import { useWasm } from './helpers.js';

/** torch.optim.AdamW's step, in float64. */
function torchAdamW(p: number[], g: number[], m: number[], v: number[], t: number, lr: number, wd: number, b1 = 0.9, b2 = 0.999, eps = 1e-8) {
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - lr * wd;
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    const denom = Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** t) + eps;
    p[i] -= (lr / (1 - b1 ** t)) * (m[i] / denom);
  }
}

test('AdamW follows torch.optim.AdamW step by step (decay on matrices, none on vectors by default)', async () => {
  await useWasm();
  const r = new SeededRandom(3);
  const w0 = Array.from({ length: 6 }, () => r.normal());
  const b0 = Array.from({ length: 3 }, () => r.normal());
  const w = tf.variable(tf.tensor2d(w0, [2, 3]));
  const b = tf.variable(tf.tensor1d(b0));
  const params = new Map<string, tf.Variable>([['w', w], ['b', b]]);
  const opt = new AdamW({ weightDecay: 0.1 });
  const ref = { w: [...w0], b: [...b0], mw: new Array(6).fill(0), vw: new Array(6).fill(0), mb: new Array(3).fill(0), vb: new Array(3).fill(0) };
  for (let t = 1; t <= 5; t++) {
    const gw = Array.from({ length: 6 }, () => r.normal());
    const gb = Array.from({ length: 3 }, () => r.normal());
    const lr = 0.01 * t;
    const grads = new Map<string, tf.Tensor>([['w', tf.tensor2d(gw, [2, 3])], ['b', tf.tensor1d(gb)]]);
    opt.apply(params, grads, lr);
    tf.dispose([...grads.values()]);
    torchAdamW(ref.w, gw, ref.mw, ref.vw, t, lr, 0.1);
    torchAdamW(ref.b, gb, ref.mb, ref.vb, t, lr, 0);
  }
  const gotW = w.dataSync();
  const gotB = b.dataSync();
  ref.w.forEach((x, i) => assert.ok(Math.abs(gotW[i] - x) < 1e-5, `w[${i}] ${gotW[i]} vs ${x}`));
  ref.b.forEach((x, i) => assert.ok(Math.abs(gotB[i] - x) < 1e-5, `b[${i}] ${gotB[i]} vs ${x}`));
  assert.equal(opt.step, 5);
  opt.dispose();
  tf.dispose([w, b]);
});

test('AdamW state round-trips, and a moment of the wrong shape is refused', async () => {
  await useWasm();
  const w = tf.variable(tf.tensor1d([1, 2, 3]));
  const params = new Map([['w', w]]);
  const a = new AdamW();
  const g = new Map<string, tf.Tensor>([['w', tf.tensor1d([0.1, -0.2, 0.3])]]);
  a.apply(params, g, 0.1);
  const state = a.getState();
  const tensors = new Map([...(await a.stateTensors())].map(([k, t]) => [k, { shape: [...t.shape], data: Float32Array.from(t.data) }]));
  const b = new AdamW();
  b.setState(state, tensors, params);
  const w2 = tf.variable(w.clone());
  a.apply(params, g, 0.1);
  b.apply(new Map([['w', w2]]), g, 0.1);
  assert.deepEqual([...w.dataSync()], [...w2.dataSync()]);
  const bad = new Map([['m.w', { shape: [2], data: new Float32Array(2) }], ['v.w', { shape: [2], data: new Float32Array(2) }]]);
  assert.throws(() => new AdamW().setState(state, bad, params), /shape/);
  assert.throws(() => new AdamW({ beta1: 0.8 }).setState(state, tensors, params), /beta1/);
  a.dispose();
  b.dispose();
  tf.dispose([w, w2, ...g.values()]);
});

test('warm-up + cosine schedule', () => {
  const s = validateSchedule({ kind: 'cosine', lr: 1, warmupSteps: 10, totalSteps: 110, minLr: 0.1 });
  assert.equal(learningRate(s, 0), 0);
  assert.equal(learningRate(s, 5), 0.5);
  assert.equal(learningRate(s, 10), 1);
  assert.ok(Math.abs(learningRate(s, 60) - 0.55) < 1e-12);
  assert.ok(Math.abs(learningRate(s, 110) - 0.1) < 1e-12);
  assert.ok(Math.abs(learningRate(s, 500) - 0.1) < 1e-12);
  assert.equal(learningRate({ kind: 'constant', lr: 0.3 }, 1000), 0.3);
  assert.throws(() => validateSchedule({ kind: 'cosine', lr: 1, totalSteps: 0 }), /totalSteps/);
});

test('global-norm clipping matches clip_grad_norm_', async () => {
  await useWasm();
  const a = tf.tensor1d([3, 0]);
  const b = tf.tensor2d([[0, 4]]);
  const { grads, norm } = clipByGlobalNorm([a, b], 1);
  assert.ok(Math.abs(norm.dataSync()[0] - 5) < 1e-6);
  const scale = 1 / (5 + 1e-6);
  assert.ok(Math.abs(grads[0].dataSync()[0] - 3 * scale) < 1e-6);
  assert.ok(Math.abs(grads[1].dataSync()[1] - 4 * scale) < 1e-6);
  const loose = clipByGlobalNorm([a, b], 10);
  assert.equal(loose.grads[0].dataSync()[0], 3);
  tf.dispose([a, b, norm, ...grads, loose.norm, ...loose.grads]);
});

test('the global norm over many gradients (summed in groups of 6 for WebGPU) is exact', async () => {
  await useWasm();
  // 50 gradients, the i-th holding the value i: norm² = Σ i² over 1..50 = 42 925 (three levels of grouping).
  const grads = Array.from({ length: 50 }, (_, i) => tf.tensor1d([i + 1]));
  const { grads: out, norm } = clipByGlobalNorm(grads, 0);
  assert.ok(Math.abs(norm.dataSync()[0] - Math.sqrt(42925)) < 1e-3);
  tf.dispose([norm, ...out, ...grads]);
});

test('group clipping scales each group on its own and reports the global norm', async () => {
  await useWasm();
  const gen = tf.tensor1d([3, 0]); // norm 3
  const disc = tf.tensor1d([0, 40]); // norm 40: would shrink the generator's step 43-fold under one global clip
  const before = tf.memory().numTensors;
  const { grads, norm } = clipByGroupNorms(['decoder.w', 'discriminator.w'], [gen, disc], 1, ['discriminator.']);
  assert.ok(Math.abs(norm.dataSync()[0]! - Math.hypot(3, 40)) < 1e-4, 'the global norm before clipping');
  assert.ok(Math.abs(grads[0]!.dataSync()[0]! - 3 / (3 + 1e-6)) < 1e-5, 'the decoder group scaled by its own norm');
  assert.ok(Math.abs(grads[1]!.dataSync()[1]! - 40 / (40 + 1e-6)) < 1e-5);
  const plain = clipByGroupNorms(['decoder.w', 'discriminator.w'], [gen, disc], 1, []);
  assert.ok(Math.abs(plain.grads[0]!.dataSync()[0]! - 3 / (Math.hypot(3, 40) + 1e-6)) < 1e-6, 'no prefixes: one global clip');
  tf.dispose([norm, ...grads, plain.norm, ...plain.grads]);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => clipByGroupNorms(['a'], [gen, disc], 1, []), /names/);
  tf.dispose([gen, disc]);
});

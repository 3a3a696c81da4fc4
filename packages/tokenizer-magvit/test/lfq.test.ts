import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import { CodeRangeError, codesToLatentData, latentToCodes, lfqEmbedding, lfqForward, readCodes, straightThroughSign } from '@showo/tokenizer-magvit';

before(async () => {
  await initBackend('wasm');
});

describe('lookup-free quantisation', () => {
  it('channel 0 is the most significant bit and z = 0 counts as bit 0', () => {
    // D = 4: [+, −, 0, +] → bits 1 0 0 1 → 9; [−, −, −, +tiny] → 1; [0, 0, 0, 0] → 0.
    const z = tf.tensor4d([0.5, -2, 0, 3, -1, -1, -1, 1e-7, 0, 0, 0, 0], [1, 1, 3, 4]);
    const codes = latentToCodes(z);
    assert.deepEqual(Array.from(codes.dataSync()), [9, 1, 0]);
    assert.equal(codes.dtype, 'int32');
    assert.deepEqual(codes.shape, [1, 3]);
    tf.dispose([z, codes]);
  });

  it('codes → ±1 latent inverts the quantiser, and matches the official embedding table', () => {
    const D = 5;
    const all = Int32Array.from({ length: 2 ** D }, (_, i) => i);
    const latent = codesToLatentData(all, D);
    assert.deepEqual(latent, lfqEmbedding(D));
    assert.deepEqual(Array.from(latent.subarray(6 * D, 7 * D)), [-1, -1, 1, 1, -1]); // 6 = 0b00110
    const z = tf.tensor4d(latent, [1, 1, 2 ** D, D]);
    const back = latentToCodes(z);
    assert.deepEqual(Array.from(back.dataSync()), Array.from(all));
    tf.dispose([z, back]);
  });

  it('refuses codes outside the codebook, non-integers and ragged rows', () => {
    assert.throws(() => readCodes([[0, 64]], 6), CodeRangeError);
    assert.throws(() => readCodes([[-1]], 6), CodeRangeError);
    assert.throws(() => readCodes([[1.5]], 6), CodeRangeError);
    assert.throws(() => readCodes([[1, 2], [3]], 6), CodeRangeError);
    assert.throws(() => readCodes({ data: [1, 2, 3], batch: 2 }, 6), CodeRangeError);
    const t = tf.tensor1d([1, 2], 'int32');
    assert.throws(() => readCodes(t, 6), CodeRangeError);
    t.dispose();
    assert.deepEqual(readCodes([[63, 0]], 6), { data: Int32Array.from([63, 0]), batch: 1, length: 2 });
  });

  it('straight-through sign: ±1 forward, identity gradient', () => {
    const z = tf.tensor1d([-0.5, 0, 0.25]);
    const { value, grads } = tf.valueAndGrads((x: tf.Tensor) => tf.sum(tf.mul(straightThroughSign(x), tf.tensor1d([1, 2, 3]))))([z]);
    assert.deepEqual(Array.from(straightThroughSign(z).dataSync()), [-1, -1, 1]);
    assert.equal(value.dataSync()[0], -1 - 2 + 3);
    assert.deepEqual(Array.from(grads[0].dataSync()), [1, 2, 3]);
    tf.dispose([z, value, ...grads]);
  });

  it('training terms follow the official formulas', () => {
    const zData = [0.3, -1.2, 0.05, 2.0, -0.4, 0.9];
    const z = tf.tensor2d(zData, [3, 2]);
    const out = lfqForward(z, { beta: 0.25, entropyMultiplier: 0.1, commitLossMultiplier: 0.1 });
    // Reference in float64: commit value = (1 + β)·mean((q − z)²)·mult; entropy from p(+1) = sigmoid(4z).
    const q = zData.map((v) => (v > 0 ? 1 : -1));
    const mse = zData.reduce((s, v, i) => s + (q[i] - v) ** 2, 0) / zData.length;
    const H = (p: number) => -(p * Math.log(p) + (1 - p) * Math.log(1 - p));
    const p = zData.map((v) => 1 / (1 + Math.exp(-4 * v)));
    const meanH = p.reduce((s, v) => s + H(v), 0) / p.length;
    const hOfMean = [0, 1].map((d) => H((p[d] + p[d + 2] + p[d + 4]) / 3)).reduce((a, b) => a + b) / 2;
    assert.ok(Math.abs(out.commit.dataSync()[0] - 1.25 * mse * 0.1) < 1e-6);
    assert.ok(Math.abs(out.entropy.dataSync()[0] - (meanH - hOfMean) * 0.1) < 1e-6);
    assert.deepEqual(Array.from(out.zq.dataSync()), q);
    tf.dispose([z, out.zq, out.commit, out.entropy]);
  });

  it('commit gradient is the official one: (1 − β)·2(z − q)/n · multiplier', () => {
    const z = tf.tensor1d([0.3, -0.6]);
    const g = tf.grad((x: tf.Tensor) => lfqForward(x.reshape([1, 2]), { beta: 0.25, entropyMultiplier: 0, commitLossMultiplier: 1 }).commit)(z);
    const want = [0.3 - 1, -0.6 + 1].map((d) => (2 * d * 0.75) / 2);
    Array.from(g.dataSync()).forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6, `${v} vs ${want[i]}`));
    tf.dispose([z, g]);
  });
});

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import { createMagvitConfig, lfqForward, MagvitTokenizer, magvitLoss, magvitLossAndGrads, nearestPaletteClass, type MagvitLossOptions } from '@showo/tokenizer-magvit';

before(async () => {
  await initBackend('wasm');
});

/** A few Adam steps; returns the total loss before each step. */
function train(model: MagvitTokenizer, images: tf.Tensor4D, steps: number, options: MagvitLossOptions = {}): number[] {
  const opt: tf.Optimizer = tf.train.adam(3e-3); // the base type takes a NamedTensorMap
  const totals: number[] = [];
  try {
    for (let i = 0; i < steps; i++) {
      const { losses, grads } = magvitLossAndGrads(model, images, options);
      totals.push(losses.total);
      opt.applyGradients(grads);
      tf.dispose(grads);
    }
  } finally {
    opt.dispose();
  }
  return totals;
}

describe('training (wasm)', () => {
  it('gradients reach every parameter; a few steps on random 16×16 images lower the loss', () => {
    const model = MagvitTokenizer.create(createMagvitConfig({ ch: 32, chMult: [1, 1], numResBlocks: 1, resolution: 16, codebookDim: 4 }), { seed: 5 });
    const images = tf.randomUniform([4, 16, 16, 3], -1, 1, 'float32', 9) as tf.Tensor4D;
    const start = tf.memory().numTensors;

    const { losses, grads, gradsByParameter } = magvitLossAndGrads(model, images);
    assert.ok(Number.isFinite(losses.total) && losses.recon > 0 && losses.commit > 0);
    assert.ok(Math.abs(losses.total - (losses.recon + losses.entropy + losses.commit)) < 1e-5);
    assert.equal(gradsByParameter.size, model.trainableVariables().length);
    for (const [name, g] of gradsByParameter) {
      const norm = tf.tidy(() => tf.sum(tf.square(g)).dataSync()[0]);
      assert.ok(Number.isFinite(norm) && norm > 0, `no gradient for ${name}`);
    }
    tf.dispose(grads);
    assert.equal(tf.memory().numTensors, start);

    const totals = train(model, images, 4);
    const after = tf.tidy(() => magvitLoss(model, images).total.dataSync()[0]);
    assert.ok(after < totals[0] * 0.9, `loss ${totals.map((t) => t.toFixed(3)).join(' → ')} → ${after.toFixed(3)}`);
    images.dispose();
    model.dispose();
  });

  it('palette head: per-pixel cross-entropy over palette classes, edge-weighted, also decreases', () => {
    const palette: [number, number, number][] = [
      [255, 255, 255],
      [0, 0, 0],
      [220, 40, 40],
    ];
    const model = MagvitTokenizer.create(createMagvitConfig({ ch: 32, chMult: [1, 1], numResBlocks: 1, resolution: 16, codebookDim: 4, palette }), { seed: 2 });
    // Blocky scenes of palette colours: each 4×4 cell one colour.
    const cells = tf.randomUniform([4, 4, 4], 0, 3, 'int32', 4);
    const images = tf.tidy(() => {
      const table = tf.tensor2d(palette.flat().map((v) => v / 127.5 - 1), [3, 3]);
      const up = tf.tile(cells.reshape([4, 4, 1, 4, 1]), [1, 1, 4, 1, 4]).reshape([4, 16, 16]);
      return tf.gather(table, up) as unknown as tf.Tensor4D;
    });
    const targets = nearestPaletteClass(images, palette);
    const want = tf.tidy(() => tf.tile(cells.reshape([4, 4, 1, 4, 1]), [1, 1, 4, 1, 4]).reshape([4, 16, 16]));
    assert.deepEqual(Array.from(targets.dataSync()), Array.from(want.dataSync()));
    const totals = train(model, images, 4, { edgeWeight: 5 });
    const after = tf.tidy(() => magvitLoss(model, images, { edgeWeight: 5, targets }).total.dataSync()[0]);
    assert.ok(after < totals[0], `loss ${totals.map((t) => t.toFixed(3)).join(' → ')} → ${after.toFixed(3)}`);
    tf.dispose([cells, images, targets, want]);
    model.dispose();
  });

  it('palette head: focalGamma scales each pixel by (1 − p)^γ of its true colour', () => {
    const palette: [number, number, number][] = [
      [255, 255, 255],
      [0, 0, 0],
      [220, 40, 40],
    ];
    const model = MagvitTokenizer.create(createMagvitConfig({ ch: 32, chMult: [1, 1], numResBlocks: 1, resolution: 16, codebookDim: 4, palette }), { seed: 3 });
    const images = tf.tidy(() => tf.gather(tf.tensor2d(palette.flat().map((v) => v / 127.5 - 1), [3, 3]), tf.randomUniform([2, 16, 16], 0, 3, 'int32', 9)) as unknown as tf.Tensor4D);
    const targets = nearestPaletteClass(images, palette);
    for (const gamma of [1, 2, 3]) {
      const got = tf.tidy(() => magvitLoss(model, images, { targets, focalGamma: gamma }).recon.dataSync()[0]!);
      const want = tf.tidy(() => {
        const logp = tf.logSoftmax(model.forwardDecoder(lfqForward(model.forwardEncoder(images), model.config).zq as tf.Tensor4D), -1);
        const p = tf.exp(tf.sum(tf.mul(logp, tf.oneHot(targets, 3)), -1));
        return tf.mean(tf.mul(tf.neg(tf.log(p)), tf.pow(tf.sub(1, p), gamma))).dataSync()[0]!;
      });
      assert.ok(Math.abs(got - want) < 1e-5 * Math.max(1, want), `γ ${gamma}: ${got} vs ${want}`);
    }
    assert.throws(() => magvitLoss(model, images, { focalGamma: -1 }), /focalGamma/);
    tf.dispose([images, targets]);
    model.dispose();
  });
});

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import {
  createLocalCodeHead,
  createMagvitConfig,
  lfqForward,
  localCodeHeadFrom,
  localCodeLoss,
  MagvitTokenizer,
  CodeRangeError,
  ImageShapeError,
  magvitDecoderLoss,
  magvitLoss,
  magvitLossAndGrads,
  nearestPaletteClass,
  thinPixelMask,
  type MagvitLossOptions,
} from '@showo/tokenizer-magvit';

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
  it('thinPixelMask marks one-pixel extremes: a circle\'s four tips, a triangle\'s apex and base corners, no square pixel', () => {
    // 13×13 canvases: class 1 inside a circle of radius 4, a square of side 5 and a triangle (SPEC rules), 0 outside.
    const inside = (shape: string, dx: number, dy: number): boolean =>
      shape === 'circle' ? dx * dx + dy * dy <= 16 : shape === 'square' ? Math.abs(dx) <= 2 && Math.abs(dy) <= 2 : dy >= -4 && dy <= 4 && Math.abs(dx) <= (dy + 4) / 2;
    const shapes = ['circle', 'square', 'triangle'];
    const classes = tf.tensor3d(shapes.flatMap((sh) => Array.from({ length: 169 }, (_, i) => (inside(sh, (i % 13) - 6, Math.floor(i / 13) - 6) ? 1 : 0))), [3, 13, 13], 'int32');
    const mask = thinPixelMask(classes);
    const thin = (b: number): string[] => {
      const d = mask.arraySync()[b]!;
      const out: string[] = [];
      d.forEach((row, y) => row.forEach((v, x) => v && out.push(`${x - 6},${y - 6}`)));
      return out;
    };
    assert.deepEqual(thin(0), ['0,-4', '-4,0', '4,0', '0,4']);
    assert.deepEqual(thin(1), []);
    // The apex, and the base's two end pixels: the row above the base is one pixel shorter on each side.
    assert.deepEqual(thin(2), ['0,-4', '-4,4', '4,4']);
    tf.dispose([classes, mask]);
  });

  it('palette head: thinWeight weights thin pixels in place of the edge weight; bad values and RGB tokenizers are typed errors', () => {
    const palette: [number, number, number][] = [
      [255, 255, 255],
      [220, 40, 40],
    ];
    const model = MagvitTokenizer.create(createMagvitConfig({ ch: 32, chMult: [1, 1], numResBlocks: 1, resolution: 16, codebookDim: 4, palette }), { seed: 5 });
    const before = tf.memory().numTensors;
    const images = tf.tidy(() => tf.gather(tf.tensor2d(palette.flat().map((v) => v / 127.5 - 1), [2, 3]), tf.randomUniform([2, 16, 16], 0, 2, 'int32', 11)) as unknown as tf.Tensor4D);
    const targets = nearestPaletteClass(images, palette);
    const got = tf.tidy(() => magvitLoss(model, images, { targets, edgeWeight: 3, thinWeight: 20 }).recon.dataSync()[0]!);
    const want = tf.tidy(() => {
      const logp = tf.logSoftmax(model.forwardDecoder(lfqForward(model.forwardEncoder(images), model.config).zq as tf.Tensor4D), -1);
      const nll = tf.neg(tf.sum(tf.mul(logp, tf.oneHot(targets, 2)), -1)).arraySync() as number[][][];
      const t = targets.arraySync();
      const thin = thinPixelMask(targets).arraySync();
      let num = 0;
      let den = 0;
      t.forEach((img, b) =>
        img.forEach((row, y) =>
          row.forEach((c, x) => {
            const edge = [[0, 1], [0, -1], [1, 0], [-1, 0]].some(([dy, dx]) => img[y + dy!]?.[x + dx!] !== undefined && img[y + dy!]![x + dx!] !== c);
            const w = thin[b]![y]![x] ? 20 : edge ? 3 : 1;
            num += w * nll[b]![y]![x]!;
            den += w;
          }),
        ),
      );
      return num / den;
    });
    assert.ok(Math.abs(got - want) < 1e-5 * Math.max(1, want), `${got} vs ${want}`);
    assert.throws(() => magvitLoss(model, images, { thinWeight: 0 }), /thinWeight/);
    const rgb = MagvitTokenizer.create(createMagvitConfig({ ch: 32, chMult: [1, 1], numResBlocks: 1, resolution: 16, codebookDim: 4 }), { seed: 5 });
    assert.throws(() => magvitLoss(rgb, images, { thinWeight: 20 }), /thinWeight needs a palette tokenizer/);
    rgb.dispose();
    tf.dispose([images, targets]);
    assert.equal(tf.memory().numTensors, before);
    model.dispose();
  });

  it('local-code term: each pixel predicted from its patch code alone, by hand; it trains the encoder', () => {
    const palette: [number, number, number][] = [
      [255, 255, 255],
      [0, 0, 0],
      [220, 40, 40],
    ];
    const model = MagvitTokenizer.create(createMagvitConfig({ ch: 32, chMult: [1, 1], numResBlocks: 1, resolution: 8, codebookDim: 3, palette }), { seed: 4 });
    const P = model.downsampleFactor; // 2: codes 4×4 over 8×8 pixels
    const vars = createLocalCodeHead(model.config, P, { hidden: 5, seed: 1 });
    const head = localCodeHeadFrom(vars)!;
    const images = tf.tidy(() => tf.gather(tf.tensor2d(palette.flat().map((v) => v / 127.5 - 1), [3, 3]), tf.randomUniform([2, 8, 8], 0, 3, 'int32', 3)) as unknown as tf.Tensor4D);
    const targets = nearestPaletteClass(images, palette);
    const start = tf.memory().numTensors;
    const l = magvitLoss(model, images, { targets, localCode: { weight: 0.5, head } });
    const [total, recon, entropy, commit, local] = [l.total, l.recon, l.entropy, l.commit, l.local!].map((t) => t.dataSync()[0]!);
    tf.dispose(Object.values(l));
    assert.ok(Math.abs(total - (recon + entropy + commit + 0.5 * local)) < 1e-5);

    // By hand on the host: code bits → ReLU(x·w1 + b1) → ·w2 + b2 → log-softmax per pixel of the patch.
    const bits = tf.tidy(() => lfqForward(model.forwardEncoder(images), model.config).zq.arraySync() as number[][][][]);
    const [w1, b1, w2, b2] = [head.w1.arraySync(), head.b1.arraySync(), head.w2.arraySync(), head.b2.arraySync()] as [number[][], number[], number[][], number[]];
    const cls = targets.arraySync() as number[][][];
    let nll = 0;
    let n = 0;
    for (let b = 0; b < 2; b++)
      for (let y = 0; y < 4; y++)
        for (let x = 0; x < 4; x++) {
          const code = bits[b][y][x];
          const hid = b1.map((bias, j) => Math.max(0, bias + code.reduce((a, v, i) => a + v * w1[i][j], 0)));
          const out = b2.map((bias, k) => bias + hid.reduce((a, v, j) => a + v * w2[j][k], 0));
          for (let py = 0; py < P; py++)
            for (let px = 0; px < P; px++) {
              const logits = out.slice((py * P + px) * 3, (py * P + px) * 3 + 3);
              const m = Math.max(...logits);
              const lse = m + Math.log(logits.reduce((a, v) => a + Math.exp(v - m), 0));
              nll += lse - logits[cls[b][y * P + py][x * P + px]];
              n++;
            }
        }
    assert.ok(Math.abs(local - nll / n) < 1e-4, `local ${local} vs by hand ${nll / n}`);

    // The term alone reaches the encoder through the straight-through quantiser, and the head.
    const all = [...model.trainableVariables(), ...vars.values()];
    const { grads, value } = tf.variableGrads(() => magvitLoss(model, images, { targets, localCode: { weight: 1, head }, reconWeight: 0, entropyWeight: 0, commitWeight: 0 }).total, all);
    const named = new Map([...model.namedVariables(), ...vars]);
    for (const name of ['encoder.conv_in.weight', 'aux.local_code.w1']) {
      const v = named.get(name);
      assert.ok(v, `no variable ${name}`);
      assert.ok(tf.tidy(() => tf.sum(tf.abs(grads[v.name])).dataSync()[0]) > 0, `no local-code gradient for ${name}`);
    }
    tf.dispose([value, ...Object.values(grads)]);
    assert.equal(tf.memory().numTensors, start);

    // A head on the first 2 of 3 bits: the loss must not change when the last bit is flipped everywhere.
    const two = createLocalCodeHead(model.config, P, { hidden: 5, bits: 2, seed: 2 });
    const zq = tf.tidy(() => lfqForward(model.forwardEncoder(images), model.config).zq as tf.Tensor4D);
    const flipped = tf.tidy(() => tf.concat([tf.slice(zq, [0, 0, 0, 0], [-1, -1, -1, 2]), tf.neg(tf.slice(zq, [0, 0, 0, 2], [-1, -1, -1, 1]))], -1) as tf.Tensor4D);
    const [a, b] = [zq, flipped].map((z) => tf.tidy(() => localCodeLoss(z, targets, localCodeHeadFrom(two)!, 3).dataSync()[0]!));
    assert.ok(Math.abs(a - b) < 1e-6, `${a} vs ${b}`);
    assert.throws(() => createLocalCodeHead(model.config, P, { bits: 4 }), /bits must be/);
    tf.dispose([zq, flipped, ...two.values()]);

    const wrong = createLocalCodeHead(model.config, 4, { hidden: 5 });
    assert.throws(() => magvitLoss(model, images, { targets, localCode: { weight: 1, head: localCodeHeadFrom(wrong)! } }), /local-code head predicts/);
    tf.dispose([images, targets, ...vars.values(), ...wrong.values()]);
    model.dispose();
  });

  it('decoder loss: with the images\' own codes it is magvitLoss\'s reconstruction; other codes change it; bad codes are typed errors', () => {
    const palette: [number, number, number][] = [
      [255, 255, 255],
      [0, 0, 0],
      [220, 40, 40],
    ];
    for (const pal of [undefined, palette]) {
      const model = MagvitTokenizer.create(createMagvitConfig({ ch: 32, chMult: [1, 1], numResBlocks: 1, resolution: 16, codebookDim: 4, ...(pal ? { palette: pal } : {}) }), { seed: 3 });
      const images = tf.randomUniform([2, 16, 16, 3], -1, 1, 'float32', 12) as tf.Tensor4D;
      const opts: MagvitLossOptions = { edgeWeight: 3, focalGamma: pal ? 2 : 0, reconWeight: 2 };
      const start = tf.memory().numTensors;
      const codes = tf.tidy(() => model.encodeToCodes(images));
      const own = tf.tidy(() => Array.from(codes.dataSync()));
      const [full, dec] = tf.tidy(() => {
        const a = magvitLoss(model, images, opts);
        const b = magvitDecoderLoss(model, codes, images, opts);
        assert.equal(b.entropy.dataSync()[0], 0);
        assert.ok(Math.abs(b.total.dataSync()[0] - 2 * b.recon.dataSync()[0]) < 1e-6);
        return [a.recon.dataSync()[0], b.recon.dataSync()[0]];
      });
      assert.ok(Math.abs(full - dec) < 1e-5 * Math.max(1, full), `${pal ? 'palette' : 'rgb'}: ${full} vs ${dec}`);
      // Flipping one bit of every code changes what the decoder sees, and so the loss.
      const flipped = own.map((c) => c ^ 1);
      const other = tf.tidy(() => magvitDecoderLoss(model, { data: flipped, batch: 2 }, images, opts).recon.dataSync()[0]);
      assert.notEqual(other, dec);
      // Gradients reach the decoder only (no encoder runs).
      const { value, grads } = tf.variableGrads(() => magvitDecoderLoss(model, codes, images, opts).total, model.trainableVariables());
      value.dispose();
      const names = new Map([...model.namedVariables()].map(([n, v]) => [v.name, n]));
      const reached = Object.keys(grads).filter((k) => tf.tidy(() => tf.sum(tf.abs(grads[k]!)).dataSync()[0]) > 0).map((k) => names.get(k)!);
      assert.ok(reached.length > 0 && reached.every((n) => n.startsWith('decoder.')), reached.join(', '));
      tf.dispose(grads);
      assert.throws(() => magvitDecoderLoss(model, { data: own.slice(0, own.length / 2), batch: 1 }, images, opts), ImageShapeError);
      assert.throws(() => magvitDecoderLoss(model, { data: own.slice(0, own.length - 2), batch: 2 }, images, opts), CodeRangeError);
      assert.throws(() => magvitDecoderLoss(model, { data: own.map(() => 16), batch: 2 }, images, opts), CodeRangeError);
      codes.dispose();
      assert.equal(tf.memory().numTensors, start);
      images.dispose();
      model.dispose();
    }
  });
});

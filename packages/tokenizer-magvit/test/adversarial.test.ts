import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, initBackend } from '@showo/runtime';
import {
  createMagvitConfig,
  MagvitTokenizer,
  magvitDecoderLoss,
  magvitLoss,
  PatchDiscriminator,
  paletteExpectation,
  perceptualLoss,
} from '@showo/tokenizer-magvit';

before(async () => {
  await initBackend('wasm');
});

const PALETTE: [number, number, number][] = [[255, 255, 255], [220, 40, 40], [40, 80, 220]];

/** Blocky palette scenes [B, 16, 16, 3] in [−1, 1]: every 4×4 cell one colour. */
function blockyImages(batch: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    const cls = tf.randomUniformInt([batch, 4, 4], 0, PALETTE.length, seed);
    const table = tf.tensor2d(PALETTE.flat().map((v) => v / 127.5 - 1), [PALETTE.length, 3]);
    const cells = tf.gather(table, cls.reshape([-1])).reshape([batch, 4, 1, 4, 1, 3]);
    return tf.tile(cells, [1, 1, 4, 1, 4, 1]).reshape([batch, 16, 16, 3]) as tf.Tensor4D;
  });
}

test('the patch discriminator scores a grid of patches and refuses inputs it cannot read', () => {
  const d = new PatchDiscriminator({ inChannels: 3, channels: [4, 8] }, 1);
  const before = tf.memory().numTensors;
  const logits = tf.tidy(() => d.logits(tf.zeros([2, 16, 12, 3])));
  assert.deepEqual(logits.shape, [2, 4, 3, 1]);
  logits.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.ok([...d.namedVariables().keys()].every((k) => k.startsWith('discriminator.')));
  assert.throws(() => d.logits(tf.zeros([1, 16, 16, 4]) as tf.Tensor4D), (e: unknown) => e instanceof InvalidArgumentError && /3 channels/.test((e as Error).message));
  assert.throws(() => d.logits(tf.zeros([1, 18, 16, 3]) as tf.Tensor4D), /multiples of 4/);
  assert.throws(() => new PatchDiscriminator({ inChannels: 0 }), InvalidArgumentError);
  d.dispose();
  assert.throws(() => d.logits(tf.zeros([1, 16, 16, 3]) as tf.Tensor4D), /disposed/);
});

test("each side of the game moves only its own weights: the decoder's term spares the discriminator and back", () => {
  const tok = MagvitTokenizer.create(createMagvitConfig({ ch: 8, chMult: [1, 2], numResBlocks: 1, resolution: 16, codebookDim: 4, normGroups: 4, palette: PALETTE }), { seed: 3 });
  const d = new PatchDiscriminator({ inChannels: PALETTE.length, channels: [4, 8] }, 2);
  const images = blockyImages(2, 5);
  const decoderVars = [...tok.namedVariables()].filter(([n]) => n.startsWith('decoder.')).map(([, v]) => v);
  const dVars = [...d.namedVariables().values()];
  const gradNorms = (weights: { generatorWeight: number; discriminatorWeight: number }) => {
    const { grads, value } = tf.variableGrads(() => {
      const l = magvitLoss(tok, images, { adversarial: { discriminator: d, lecamWeight: 0, ...weights } });
      // Only the adversarial part: subtract the terms that do not depend on the discriminator.
      return tf.sub(l.total, tf.addN([l.recon, l.entropy, l.commit])) as tf.Scalar;
    }, [...decoderVars, ...dVars]);
    const norm = (vars: tf.Variable[]) => tf.tidy(() => Math.sqrt(vars.reduce((s, v) => s + (grads[v.name] ? tf.sum(tf.square(grads[v.name]!)).dataSync()[0]! : 0), 0)));
    const out = { decoder: norm(decoderVars), discriminator: norm(dVars) };
    tf.dispose([value, ...Object.values(grads)]);
    return out;
  };
  const g = gradNorms({ generatorWeight: 1, discriminatorWeight: 0 });
  assert.ok(g.decoder > 0, 'the generator term trains the decoder');
  assert.equal(g.discriminator, 0, 'the generator term leaves the discriminator alone');
  const dd = gradNorms({ generatorWeight: 0, discriminatorWeight: 1 });
  assert.ok(dd.discriminator > 0, "the discriminator's hinge loss trains it");
  assert.equal(dd.decoder, 0, "the discriminator's loss sees a stopped reconstruction");
  images.dispose();
  tok.dispose();
  d.dispose();
});

test("the discriminator's gradient on wasm matches finite differences", () => {
  const d = new PatchDiscriminator({ inChannels: 3, channels: [4] }, 7);
  const real = tf.tidy(() => tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 1) as tf.Tensor4D);
  const fake = tf.tidy(() => tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 2) as tf.Tensor4D);
  const vars = d.namedVariables();
  const loss = () => {
    // Every evaluation moves the LeCAM anchors: pin them, so that all evaluations are of one function.
    d.setState({ anchorReal: 0.3, anchorFake: -0.2, started: true, evaluations: 0 });
    // The decoder's term reaches the weights only through a stop-gradient (by design), so the finite difference of
    // the discriminator's own loss is what its gradient must match; LeCAM included.
    const l = d.losses(real, fake, { generatorWeight: 0, lecamWeight: 0.5 });
    const t = l.total;
    tf.dispose([l.generator, l.discriminator, l.lecam]);
    return t;
  };
  const { grads, value } = tf.variableGrads(loss);
  value.dispose();
  for (const name of ['discriminator.conv_in.weight', 'discriminator.blocks.0.conv2.weight', 'discriminator.conv_out.bias']) {
    const v = vars.get(name)!;
    const g = grads[v.name]!.dataSync();
    const w = v.dataSync().slice();
    const i = Math.floor(w.length / 3);
    const at = (x: number) => {
      const copy = w.slice();
      copy[i] = x;
      tf.tidy(() => v.assign(tf.tensor(copy, v.shape)));
      return tf.tidy(() => loss().dataSync()[0]!);
    };
    const h = 1e-2;
    const numeric = (at(w[i]! + h) - at(w[i]! - h)) / (2 * h);
    tf.tidy(() => v.assign(tf.tensor(w, v.shape)));
    assert.ok(Math.abs(numeric - g[i]!) < 2e-3 + 0.05 * Math.abs(numeric), `${name}[${i}]: analytic ${g[i]} vs numeric ${numeric}`);
  }
  tf.dispose([real, fake, ...Object.values(grads)]);
  d.dispose();
});

test('LeCAM anchors follow the mean logits, survive getState/setState, and startAfter holds the terms at zero', () => {
  const d = new PatchDiscriminator({ inChannels: 3, channels: [4] }, 7);
  const real = tf.tidy(() => tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 1) as tf.Tensor4D);
  const fake = tf.tidy(() => tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 2) as tf.Tensor4D);
  const means = tf.tidy(() => [tf.mean(d.logits(real)).dataSync()[0]!, tf.mean(d.logits(fake)).dataSync()[0]!]);
  const run = (startAfter: number) =>
    tf.tidy(() => {
      const l = d.losses(real, fake, { startAfter, lecamDecay: 0.5 });
      return [l.total.dataSync()[0]!, l.discriminator.dataSync()[0]!];
    });
  const [off, hinge] = run(2);
  assert.equal(off, 0, 'zero before startAfter');
  assert.ok(hinge > 0, 'the terms are still computed (and reported)');
  run(2);
  const [on] = run(2);
  assert.ok(on > 0, 'counted evaluations switch the term on');
  // Three evaluations of the same batch: the first set the anchors, the next two moved them (decay 0.5) to the same means.
  const s = d.getState();
  assert.equal(s.evaluations, 3);
  assert.ok(Math.abs(s.anchorReal - means[0]!) < 1e-5 && Math.abs(s.anchorFake - means[1]!) < 1e-5, JSON.stringify(s));
  const other = new PatchDiscriminator({ inChannels: 3, channels: [4] }, 7);
  other.setState(JSON.parse(JSON.stringify(s)));
  assert.deepEqual(other.getState(), s);
  assert.throws(() => other.setState({ anchorReal: 1 }), InvalidArgumentError);
  tf.dispose([real, fake]);
  d.dispose();
  other.dispose();
});

test('decoder-only losses take the adversarial term too; perceptual loss and palette expectation compute what they say', () => {
  const tok = MagvitTokenizer.create(createMagvitConfig({ ch: 8, chMult: [1, 2], numResBlocks: 1, resolution: 16, codebookDim: 4, normGroups: 4, palette: PALETTE }), { seed: 3 });
  const d = new PatchDiscriminator({ inChannels: PALETTE.length, channels: [4] }, 2);
  const images = blockyImages(2, 9);
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const codes = tok.encodeToCodes(images);
    const plain = magvitDecoderLoss(tok, codes, images);
    const adv = magvitDecoderLoss(tok, codes, images, { adversarial: { discriminator: d } });
    assert.ok(adv.adversarial, 'adversarial terms are reported');
    const expected = plain.total.dataSync()[0]! + adv.adversarial!.total.dataSync()[0]!;
    assert.ok(Math.abs(adv.total.dataSync()[0]! - expected) < 1e-5);
  });
  assert.equal(tf.memory().numTensors, before);

  tf.tidy(() => {
    // Features: the image itself and its 2×-pooled copy. Distance = mean sq. diff of each, summed, times the weight.
    const features = (x: tf.Tensor4D) => [x, tf.avgPool(x, 2, 2, 'valid')];
    const a = tf.randomUniform([1, 4, 4, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
    const b = tf.randomUniform([1, 4, 4, 3], -1, 1, 'float32', 4) as tf.Tensor4D;
    const got = perceptualLoss(features, 0.5)(a, b).dataSync()[0]!;
    const want = 0.5 * (tf.mean(tf.square(tf.sub(a, b))).dataSync()[0]! + tf.mean(tf.square(tf.sub(tf.avgPool(a, 2, 2, 'valid'), tf.avgPool(b, 2, 2, 'valid')))).dataSync()[0]!);
    assert.ok(Math.abs(got - want) < 1e-6);
    // Confident logits of class 1 → that palette colour.
    const logits = tf.tensor4d([0, 30, 0], [1, 1, 1, 3]);
    const rgb = paletteExpectation(logits, PALETTE).dataSync();
    PALETTE[1]!.forEach((c, i) => assert.ok(Math.abs(rgb[i]! - (c / 127.5 - 1)) < 1e-4));
  });
  assert.throws(() => perceptualLoss(() => [], -1), InvalidArgumentError);
  images.dispose();
  tok.dispose();
  d.dispose();
});

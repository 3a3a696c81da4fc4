import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import { createMagvitConfig, deepenDecoder, loadMagvit, MagvitConfigError, MagvitTokenizer, saveMagvit, type MagvitConfig } from '@showo/tokenizer-magvit';

const base = createMagvitConfig({ ch: 16, chMult: [1, 2], numResBlocks: 1, resolution: 16, codebookDim: 4, normGroups: 8 });
// Like the embedded tokenizer: no ResNet block at full resolution.
const config: MagvitConfig = { ...base, decoder: { ...base.decoder, numResBlocks: [0, 1] } };
let model: MagvitTokenizer;
let tmp: string;

before(async () => {
  await initBackend('wasm');
  model = MagvitTokenizer.create(config, { seed: 3 });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'magvit-grow-'));
});
after(() => {
  model.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const images = () => tf.randomUniform([2, 16, 16, 3], -1, 1, 'float32', 5) as tf.Tensor4D;

describe('deepenDecoder', () => {
  it('adds blocks that start as the identity: same codes, same decoded images', () => {
    const before = tf.memory().numTensors;
    const grown = deepenDecoder(model, [2, 1], { seed: 1 });
    assert.deepEqual(grown.config.decoder.numResBlocks, [2, 2]);
    // Level 0 had no block, so it takes the incoming width (32 = 16 · 2) as its own.
    assert.deepEqual(grown.config.decoder.chMult, [2, 2]);
    assert.deepEqual(grown.config.encoder, model.config.encoder);
    const names = [...grown.namedVariables().keys()];
    for (const n of ['decoder.up.0.block.0.conv1.weight', 'decoder.up.0.block.1.conv2.bias', 'decoder.up.1.block.1.norm2.weight']) assert.ok(names.includes(n), n);
    assert.ok(!names.some((n) => n.includes('decoder.up.0.block.0.nin_shortcut')), 'identity blocks need no shortcut');
    assert.ok(grown.parameterCount() > model.parameterCount());
    tf.tidy(() => {
      const x = images();
      const codes = model.encodeToCodes(x);
      assert.deepEqual(Array.from(grown.encodeToCodes(x).dataSync()), Array.from(codes.dataSync()));
      const diff = tf.max(tf.abs(tf.sub(grown.decodeCodes(codes), model.decodeCodes(codes)))).dataSync()[0];
      assert.ok(diff < 1e-5, `decoded images differ by ${diff}`);
    });
    // The source keeps working and owns its own tensors.
    grown.dispose();
    assert.equal(tf.memory().numTensors, before);
    tf.tidy(() => void model.decodeCodes(model.encodeToCodes(images())).dataSync());
  });

  it('gives the new blocks gradients, so training can move them', () => {
    const grown = deepenDecoder(model, [1, 0]);
    const vars = grown.namedVariables();
    const conv2 = vars.get('decoder.up.0.block.0.conv2.weight')!;
    const conv1 = vars.get('decoder.up.0.block.0.conv1.weight')!;
    tf.tidy(() => {
      const x = images();
      const codes = grown.encodeToCodes(x);
      const { grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(grown.decodeCodes(codes), x))) as tf.Scalar, [conv2, conv1]);
      const g2 = tf.max(tf.abs(grads[conv2.name])).dataSync()[0];
      assert.ok(g2 > 0, 'the zero-initialised conv2 receives a gradient');
    });
    grown.dispose();
  });

  it('saves and loads under official names with the grown config', () => {
    const grown = deepenDecoder(model, [1, 0], { seed: 2 });
    const file = path.join(tmp, 'grown.safetensors');
    saveMagvit(grown, file);
    const loaded = loadMagvit(file);
    assert.deepEqual(loaded.config.decoder, grown.config.decoder);
    tf.tidy(() => {
      const codes = grown.encodeToCodes(images());
      const diff = tf.max(tf.abs(tf.sub(loaded.decodeCodes(codes), grown.decodeCodes(codes)))).dataSync()[0];
      assert.equal(diff, 0);
    });
    loaded.dispose();
    grown.dispose();
  });

  it('refuses block counts that do not name every level', () => {
    assert.throws(() => deepenDecoder(model, [1]), MagvitConfigError);
    assert.throws(() => deepenDecoder(model, [1, -1]), MagvitConfigError);
    assert.throws(() => deepenDecoder(model, [0.5, 0]), /one non-negative block count per decoder level/);
  });
});

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Container } from 'inversify';
import { initBackend } from '@showo/runtime';
import {
  createMagvitConfig,
  defaultImageCodec,
  MAGVIT_TYPES,
  magvitModule,
  MagvitTokenizer,
  saveMagvit,
  type MagvitImageCodec,
  type MagvitSource,
  type MagvitTraining,
} from '@showo/tokenizer-magvit';

before(async () => {
  await initBackend('wasm');
});

const small = createMagvitConfig({ ch: 32, chMult: [1, 2], resolution: 16, codebookDim: 4 });

describe('DI', () => {
  it('binds a tokenizer singleton, the image codec and the training functions', async () => {
    const c = new Container();
    await c.load(magvitModule({ source: { config: small, seed: 1 } }));
    const t = c.get<MagvitTokenizer>(MAGVIT_TYPES.Tokenizer);
    assert.ok(t instanceof MagvitTokenizer);
    assert.equal(c.get(MAGVIT_TYPES.Tokenizer), t);
    assert.equal(t.codebookSize, 16);
    assert.equal(c.get<MagvitImageCodec>(MAGVIT_TYPES.ImageCodec), defaultImageCodec);
    assert.equal(typeof c.get<MagvitTraining>(MAGVIT_TYPES.Training).loss, 'function');
    const vars = tf.memory().numTensors;
    await c.unbind(MAGVIT_TYPES.Tokenizer); // deactivation disposes the model's variables
    assert.ok(tf.memory().numTensors < vars);
  });

  it('an application-bound source wins, e.g. a weights file', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'magvit-di-'));
    const file = path.join(tmp, 'w.safetensors');
    const m = MagvitTokenizer.create(small, { seed: 4 });
    saveMagvit(m, file);
    m.dispose();
    const c = new Container();
    c.bind<MagvitSource>(MAGVIT_TYPES.Source).toConstantValue({ weights: file });
    await c.load(magvitModule());
    const t = c.get<MagvitTokenizer>(MAGVIT_TYPES.Tokenizer);
    assert.deepEqual(t.config.encoder.chMult, [1, 2]);
    t.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});

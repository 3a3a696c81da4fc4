import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Container } from 'inversify';
import * as tf from '@tensorflow/tfjs';
import { SHOWO_CORE_TYPES, ShowoModel, showoCoreModule, type ShowoModelLoader } from '@showo/showo-core';
import { TINY, tmpDir, useBackend } from './helpers.js';

before(() => useBackend('wasm'));

test('the container module loads the model from ModelDir as a singleton and disposes it on unbind', async () => {
  const dir = tmpDir('di');
  const seed = ShowoModel.random(TINY, 1);
  await seed.save(dir);
  seed.dispose();
  const start = tf.memory().numTensors;
  try {
    const container = new Container();
    container.load(showoCoreModule);
    container.bind<string>(SHOWO_CORE_TYPES.ModelDir).toConstantValue(dir);
    const model = await container.getAsync<ShowoModel>(SHOWO_CORE_TYPES.Model);
    assert.equal(model, await container.getAsync<ShowoModel>(SHOWO_CORE_TYPES.Model));
    assert.deepEqual(model.config, TINY);
    assert.ok(tf.memory().numTensors > start);
    await container.unbind(SHOWO_CORE_TYPES.Model);
    assert.ok(model.disposed);
    assert.equal(tf.memory().numTensors, start);
    // a user swaps the loader
    const c2 = new Container();
    c2.load(showoCoreModule);
    c2.bind<string>(SHOWO_CORE_TYPES.ModelDir).toConstantValue('unused');
    const custom: ShowoModelLoader = { load: async () => ShowoModel.random(TINY, 2), random: (c, s) => ShowoModel.random(c, s) };
    c2.rebind<ShowoModelLoader>(SHOWO_CORE_TYPES.ModelLoader).toConstantValue(custom);
    const m2 = await c2.getAsync<ShowoModel>(SHOWO_CORE_TYPES.Model);
    assert.equal(m2.config.hidden_size, TINY.hidden_size);
    m2.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

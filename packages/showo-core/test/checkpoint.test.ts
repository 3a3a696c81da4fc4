// Loading and saving checkpoints with the official names, config layouts, typed errors, vocabulary growth.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { SafetensorsReader, SeededRandom, readSafetensors, writeFileAtomic, writeSafetensors } from '@showo/runtime';
import {
  CheckpointMismatchError,
  ModelTooLargeError,
  PHI_1_5_DEFAULTS,
  ShowoConfigError,
  ShowoModel,
  assertModelFits,
  configToJson,
  paramSpecs,
  parameterCount,
  parseShowoConfig,
  tokenLayoutFor,
} from '@showo/showo-core';
import { TINY, maskFrom, maxDiff, randomIds, tinyDir, tmpDir, useBackend } from './helpers.js';

const dir = tinyDir();
before(() => useBackend('wasm'));

test('config: flat, official release (Phi-1.5 implied) and nested model.showo layouts', () => {
  assert.deepEqual(parseShowoConfig(configToJson(TINY)), TINY);
  const release = parseShowoConfig({
    _class_name: 'Showo',
    codebook_size: 8192,
    llm_model_path: 'microsoft/phi-1_5',
    llm_vocab_size: 50295,
    num_vq_tokens: 256,
    vocab_size: 58498,
    w_clip_vit: false,
  });
  assert.equal(release.hidden_size, PHI_1_5_DEFAULTS.hidden_size);
  assert.equal(release.num_hidden_layers, 24);
  assert.equal(release.num_new_special_tokens, 10);
  assert.ok(Math.abs(parameterCount(release) - 1.45e9) < 0.05e9, `${parameterCount(release)}`);
  const nested = parseShowoConfig({ model: { showo: { ...configToJson(TINY), hidden_size: undefined } }, phi_config: { hidden_size: 32, vocab_size: 3 } });
  assert.equal(nested.hidden_size, 32);
  assert.equal(nested.vocab_size, TINY.vocab_size, 'phi_config.vocab_size (pre-resize) must not win');
});

test('config: every problem is listed in one ShowoConfigError', () => {
  const err = (() => {
    try {
      parseShowoConfig({ vocab_size: 47, llm_vocab_size: 20, codebook_size: 16 });
    } catch (e) {
      return e;
    }
  })() as ShowoConfigError;
  assert.ok(err instanceof ShowoConfigError);
  assert.match(err.message, /num_vq_tokens/);
  assert.match(err.message, /hidden_size/);
  assert.match(err.message, /phi-1_5/);
  assert.throws(() => parseShowoConfig({ ...configToJson(TINY), num_attention_heads: 5 }), /not divisible/);
  assert.throws(() => parseShowoConfig({ ...configToJson(TINY), vocab_size: 40 }), /smaller than/);
  assert.throws(() => parseShowoConfig({ ...configToJson(TINY), hidden_size: 'big' }), ShowoConfigError);
  assert.throws(() => parseShowoConfig([1, 2]), ShowoConfigError);
});

test('layout helper: the TokenLayout of @showo/prompting for a config', { skip: !dir }, () => {
  const c = parseShowoConfig(JSON.parse(fs.readFileSync(path.join(dir!, 'config.json'), 'utf8')));
  const layout = tokenLayoutFor(c, { bosId: 199 });
  assert.equal(layout.maskId, 274);
  assert.equal(layout.imageOffset, 210);
  assert.equal(layout.special('<|soi|>'), 201);
  assert.throws(() => tokenLayoutFor({ ...c, vocab_size: 276 }, { bosId: 199 }), /plugin token/);
  assert.equal(tokenLayoutFor({ ...c, vocab_size: 276 }, { bosId: 199 }, ['<|inpaint|>']).special('<|inpaint|>'), 275);
});

test('the fixture checkpoint loads with its official names; save → load round-trips exactly', { skip: !dir }, async () => {
  const model = await ShowoModel.load(dir!);
  const out = tmpDir('roundtrip');
  try {
    await model.save(out);
    const names = SafetensorsReader.open(path.join(out, 'model.safetensors'));
    const official = SafetensorsReader.open(path.join(dir!, 'weights.safetensors'));
    assert.deepEqual(names.names(), official.names(), 'same names in the official order');
    for (const n of official.names()) assert.deepEqual(names.read(n).data, official.read(n).data, n); // [out,in] again
    names.close();
    official.close();
    const again = await ShowoModel.load(out);
    assert.deepEqual(again.config, model.config);
    again.dispose();
  } finally {
    model.dispose();
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('bf16 save: half the bytes, weights within bf16 rounding', async () => {
  const model = ShowoModel.random(TINY, 5);
  const out = tmpDir('bf16');
  try {
    await model.save(out, { dtype: 'BF16' });
    const bytes = fs.statSync(path.join(out, 'model.safetensors')).size;
    assert.ok(bytes < 2 * model.parameterCount + 20000, `${bytes} bytes`);
    const back = await ShowoModel.load(out);
    const ids = randomIds(1, 5, TINY.vocab_size);
    const m = maskFrom(1, 5, (q, k) => k <= q);
    const [a, b] = [model.forward(ids, m), back.forward(ids, m)];
    assert.ok(maxDiff(a, b) < 0.05);
    tf.dispose([ids, a, b]);
    back.dispose();
  } finally {
    model.dispose();
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('missing, unexpected and mis-shaped tensors are one CheckpointMismatchError listing the names', async () => {
  const model = ShowoModel.random(TINY, 6);
  const out = tmpDir('mismatch');
  try {
    await model.save(out);
    const file = path.join(out, 'model.safetensors');
    const { tensors } = readSafetensors(file);
    tensors.delete('showo.lm_head.bias');
    tensors.set('showo.model.extra.weight', { dtype: 'F32', shape: [2], data: new Float32Array(2) });
    tensors.set('showo.model.layers.1.mlp.fc1.weight', { dtype: 'F32', shape: [32, 64], data: new Float32Array(2048) });
    tensors.set('showo.model.layers.0.self_attn.rotary_emb.inv_freq', { dtype: 'F32', shape: [2], data: new Float32Array(2) }); // ignored
    writeSafetensors(file, tensors);
    const start = tf.memory().numTensors;
    await assert.rejects(ShowoModel.load(out), (e: unknown) => {
      assert.ok(e instanceof CheckpointMismatchError);
      assert.deepEqual(e.missing, ['showo.lm_head.bias']);
      assert.deepEqual(e.unexpected, ['showo.model.extra.weight']);
      assert.deepEqual(e.misShaped, [{ name: 'showo.model.layers.1.mlp.fc1.weight', expected: [64, 32], actual: [32, 64] }]);
      assert.match(e.message, /lm_head\.bias/);
      return true;
    });
    assert.equal(tf.memory().numTensors, start, 'a refused load must not leave tensors');
    fs.rmSync(file);
    await assert.rejects(ShowoModel.load(out), CheckpointMismatchError);
    fs.rmSync(path.join(out, 'config.json'));
    await assert.rejects(ShowoModel.load(out), ShowoConfigError);
  } finally {
    model.dispose();
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('a Phi-1.5-sized model is refused on wasm before any weight is read', async () => {
  const out = tmpDir('big');
  try {
    writeFileAtomic(path.join(out, 'config.json'), JSON.stringify({ llm_model_path: 'microsoft/phi-1_5', llm_vocab_size: 50295, codebook_size: 8192, num_vq_tokens: 256, vocab_size: 58498 }));
    // no weights file at all: the budget check must come first
    await assert.rejects(ShowoModel.load(out), (e: unknown) => e instanceof ModelTooLargeError && /wasm/.test(e.message));
    assert.throws(() => assertModelFits(TINY, { memoryBudgetBytes: 1000 }), ModelTooLargeError);
    assertModelFits(TINY);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('random init follows HF (N(0, 0.02²) weights, zero biases, unit LayerNorm) and is seeded', () => {
  const a = ShowoModel.random(TINY, 9);
  const b = ShowoModel.random(TINY, 9);
  const va = a.namedVariables();
  const vb = b.namedVariables();
  assert.equal(a.trainableVariables().length, paramSpecs(TINY).length);
  const emb = Array.from(va.get('showo.model.embed_tokens.weight')!.dataSync());
  const std = Math.sqrt(emb.reduce((s, x) => s + x * x, 0) / emb.length);
  assert.ok(Math.abs(std - 0.02) < 0.002, `std ${std}`);
  assert.ok(va.get('showo.lm_head.bias')!.dataSync().every((x) => x === 0));
  assert.ok(va.get('showo.model.final_layernorm.weight')!.dataSync().every((x) => x === 1));
  assert.deepEqual(va.get('showo.model.layers.0.mlp.fc1.weight')!.shape, [32, 64], 'linear weights are held [in, out]');
  for (const [n, v] of va) assert.deepEqual(v.dataSync(), vb.get(n)!.dataSync(), n);
  a.dispose();
  b.dispose();
});

test('resizeVocab grows embedding and lm_head keeping every existing row', () => {
  const model = ShowoModel.random(TINY, 10);
  const ids = randomIds(1, 6, TINY.vocab_size);
  const m = maskFrom(1, 6, (q, k) => k <= q);
  const before = model.forward(ids, m);
  const start = tf.memory().numTensors;
  model.resizeVocab(TINY.vocab_size + 2, new SeededRandom(1));
  assert.equal(tf.memory().numTensors, start, 'old variables must be freed');
  assert.equal(model.config.vocab_size, TINY.vocab_size + 2);
  assert.deepEqual(model.namedVariables().get('showo.model.embed_tokens.weight')!.shape, [TINY.vocab_size + 2, 32]);
  const after = model.forward(ids, m);
  assert.deepEqual(after.shape, [1, 6, TINY.vocab_size + 2]);
  const old = tf.slice(after, [0, 0, 0], [1, 6, TINY.vocab_size]);
  assert.equal(maxDiff(old, before), 0, 'existing logits unchanged');
  const newIds = tf.tensor2d([[TINY.vocab_size, TINY.vocab_size + 1]], [1, 2], 'int32');
  const l = model.forward(newIds, maskFrom(1, 2, (q, k) => k <= q));
  assert.ok(l.dataSync().every(Number.isFinite));
  assert.throws(() => model.resizeVocab(3, new SeededRandom(1)), /must be an integer/);
  assert.deepEqual([...model.namedVariables().keys()], paramSpecs(model.config).map((s) => s.name), 'official order kept');
  tf.dispose([ids, before, after, old, newIds, l]);
  model.dispose();
});

test('insertLayers deepens a model without changing its logits; the new layers then train and save like any other', async () => {
  const model = ShowoModel.random(TINY, 11);
  const ids = randomIds(2, 7, TINY.vocab_size);
  const m = maskFrom(2, 7, (q, k) => k <= q || (q >= 3 && k >= 3));
  const before = model.forward(ids, m);
  const oldLayers = TINY.num_hidden_layers;
  const layer0 = model.namedVariables().get('showo.model.layers.0.mlp.fc1.weight')!;
  const last = model.namedVariables().get(`showo.model.layers.${oldLayers - 1}.self_attn.q_proj.weight`)!.dataSync().slice();
  const start = tf.memory().numTensors;
  model.insertLayers([0, oldLayers - 1], new SeededRandom(2));
  assert.equal(model.config.num_hidden_layers, oldLayers + 2);
  assert.equal(tf.memory().numTensors, start + 18 * 2, 'two new layers of 18 tensors each; old ones are kept, not copied');
  assert.deepEqual([...model.namedVariables().keys()], paramSpecs(model.config).map((s) => s.name), 'official names and order');
  assert.equal(model.namedVariables().get('showo.model.layers.0.mlp.fc1.weight'), layer0, 'layer 0 stays where it was');
  // The old last layer moved up by one (a new layer follows layer 0); another new layer follows it.
  assert.deepEqual(model.namedVariables().get(`showo.model.layers.${oldLayers}.self_attn.q_proj.weight`)!.dataSync(), last);
  assert.ok(model.namedVariables().get(`showo.model.layers.${oldLayers + 1}.mlp.fc2.weight`)!.dataSync().every((x) => x === 0));
  for (const suffix of ['self_attn.dense.weight', 'self_attn.dense.bias', 'mlp.fc2.weight', 'mlp.fc2.bias']) {
    assert.ok(model.namedVariables().get(`showo.model.layers.1.${suffix}`)!.dataSync().every((x) => x === 0), `new ${suffix} starts at zero`);
  }
  assert.ok(model.namedVariables().get('showo.model.layers.1.mlp.fc1.weight')!.dataSync().some((x) => x !== 0), 'the rest is initialised');
  const after = model.forward(ids, m);
  assert.ok(maxDiff(after, before) < 1e-6, `logits moved by ${maxDiff(after, before)}`);

  // Gradients reach the new output projections at once (the rest follows once they are non-zero).
  const { grads, value } = tf.variableGrads(() => tf.mean(tf.square(model.forward(ids, m))) as tf.Scalar, model.trainableVariables());
  const fc2 = model.namedVariables().get('showo.model.layers.1.mlp.fc2.weight')!;
  assert.ok(grads[fc2.name]!.dataSync().some((x) => x !== 0));
  tf.dispose([value, ...Object.values(grads)]);

  const out = path.join(tmpDir('grow'), 'grown');
  await model.save(out);
  const loaded = await ShowoModel.load(out);
  assert.equal(loaded.config.num_hidden_layers, oldLayers + 2);
  const again = loaded.forward(ids, m);
  assert.ok(maxDiff(again, after) < 1e-6);
  assert.throws(() => model.insertLayers([oldLayers + 2], new SeededRandom(1)), /0…/);
  assert.throws(() => model.insertLayers([0.5], new SeededRandom(1)), /integers/);
  tf.dispose([ids, before, after, again]);
  loaded.dispose();
  model.dispose();
});

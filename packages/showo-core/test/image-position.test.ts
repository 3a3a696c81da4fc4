// The optional image row / column embeddings (config `image_position_embedding: 'row_col'`).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CheckpointMismatchError, ShowoConfigError, ShowoModel, paramSpecs, parameterCount, validateShowoConfig, type ShowoConfig } from '@showo/showo-core';
import { TINY, maskFrom, maxDiff, rows as maskRows, tmpDir, useBackend } from './helpers.js';
import fs from 'node:fs';

before(() => useBackend('wasm'));

// 3×3 image grid; ids 20–29 specials, 30–45 codes, 46 [MASK].
const GRID: ShowoConfig = { ...TINY, num_vq_tokens: 9 };
const SOI = 21;
const CODE = (k: number) => 30 + k;
const MASK = 46;
/** [t2i-ish] text, soi, 9 image tokens (some masked), eoi, more text. */
const SEQ = [20, 3, 7, 11, SOI, CODE(1), MASK, CODE(5), CODE(2), MASK, CODE(9), CODE(0), MASK, CODE(15), 22, 4, 8];
const omni = (L: number) => maskFrom(1, L, (q, k) => k <= q || (q >= 5 && q < 14 && k >= 5 && k < 14));
const ids = (row: number[]) => tf.tensor2d([row], [1, row.length], 'int32');
/** Calls `fn` with the ids of `row` and frees them afterwards. */
function withIds<T>(row: number[], fn: (x: tf.Tensor2D) => T): T {
  const x = ids(row);
  try {
    return fn(x);
  } finally {
    x.dispose();
  }
}

/** Gives the tables random values, as training would. */
function randomiseTables(model: ShowoModel, seed: number): void {
  for (const name of ['showo.model.image_row_embed.weight', 'showo.model.image_col_embed.weight']) {
    const v = model.namedVariables().get(name)!;
    v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', seed++));
  }
}

test('addImagePositionEmbedding keeps every logit, adds two [√N, H] tables and the config field', () => {
  const model = ShowoModel.random(GRID, 4);
  const x = ids(SEQ);
  const m = omni(SEQ.length);
  const before = model.forward(x, m);
  const tensors = tf.memory().numTensors;
  model.addImagePositionEmbedding();
  assert.equal(model.config.image_position_embedding, 'row_col');
  assert.equal(tf.memory().numTensors, tensors + 2, 'two new tables; the old variables are kept');
  assert.deepEqual([...model.namedVariables().keys()], paramSpecs(model.config).map((s) => s.name));
  assert.deepEqual(model.namedVariables().get('showo.model.image_row_embed.weight')!.shape, [3, GRID.hidden_size]);
  assert.equal(model.parameterCount, parameterCount(GRID) + 2 * 3 * GRID.hidden_size);
  const after = model.forward(x, m);
  assert.ok(maxDiff(after, before) < 1e-6);
  model.addImagePositionEmbedding(); // already on: nothing changes
  assert.equal(tf.memory().numTensors, tensors + 3, 'the two tables and the logits');
  tf.dispose([x, before, after]);
  model.dispose();
});

test('an image token gets the embedding of its row and column; text tokens get none', () => {
  const model = ShowoModel.random(GRID, 5);
  model.addImagePositionEmbedding();
  randomiseTables(model, 1);
  const row = model.namedVariables().get('showo.model.image_row_embed.weight')!.arraySync() as number[][];
  const col = model.namedVariables().get('showo.model.image_col_embed.weight')!.arraySync() as number[][];
  const tok = model.namedVariables().get('showo.model.embed_tokens.weight')!.arraySync() as number[][];
  const x = ids(SEQ);
  const e = model.embed(x).arraySync()[0];
  SEQ.forEach((id, t) => {
    const k = t - 5; // image tokens sit at 5…13
    const want = tok[id].map((v, j) => (k >= 0 && k < 9 ? v + row[Math.floor(k / 3)][j] + col[k % 3][j] : v));
    assert.ok(Math.max(...want.map((v, j) => Math.abs(v - e[t][j]))) < 1e-6, `position ${t}`);
  });
  // Moving the same tokens one place changes what the model sees.
  const shifted = [...SEQ.slice(0, 5), CODE(3), ...SEQ.slice(5, 13), 22, 4, 8];
  const a = model.forward(x, omni(SEQ.length));
  const b = model.forward(ids(shifted.slice(0, SEQ.length)), omni(SEQ.length));
  assert.ok(maxDiff(a, b) > 1e-3);
  tf.dispose([x, a, b]);
  model.dispose();
});

test('cached forwards place image tokens like a full forward, also when an image is fed in pieces', () => {
  const model = ShowoModel.random(GRID, 6);
  model.addImagePositionEmbedding();
  randomiseTables(model, 3);
  const L = SEQ.length;
  const m = omni(L);
  const full = withIds(SEQ, (x) => model.forward(x, m));
  const rows = (from: number, to: number) => maskRows(m, from, to, to);
  const tensors = tf.memory().numTensors;
  // Prefix cache (MaskGIT): prefix up to soi, then the image block against it, twice (the cache is only read).
  const prefix = withIds(SEQ.slice(0, 5), (x) => model.prefill(x, rows(0, 5)));
  for (let i = 0; i < 2; i++) {
    const block = withIds(SEQ.slice(5, 14), (x) => model.forwardWithCache(x, rows(5, 14), prefix, { append: false }));
    assert.ok(tf.tidy(() => maxDiff(block, tf.slice(full, [0, 5, 0], [1, 9, GRID.vocab_size]))) < 1e-5, `prefix-cache step ${i}`);
    block.dispose();
  }
  prefix.dispose();
  // Appending in pieces that split the image: positions continue across calls. (A causal mask, so that the
  // earlier pieces do not need keys of later ones.)
  const causal = maskFrom(1, L, (q, k) => k <= q);
  const fullCausal = withIds(SEQ, (x) => model.forward(x, causal));
  const causalRows = (from: number, to: number) => maskRows(causal, from, to, to);
  const cache = model.emptyCache(1);
  let t = 0;
  for (const end of [3, 8, 11, L]) {
    const out = withIds(SEQ.slice(t, end), (x) => model.forwardWithCache(x, causalRows(t, end), cache, { append: true }));
    assert.ok(tf.tidy(() => maxDiff(out, tf.slice(fullCausal, [0, t, 0], [1, end - t, GRID.vocab_size]))) < 1e-5, `positions ${t}…${end - 1}`);
    out.dispose();
    t = end;
  }
  cache.dispose();
  assert.equal(tf.memory().numTensors, tensors + 1, 'only the causal logits are left');
  tf.dispose([full, fullCausal]);
  model.dispose();
});

test('the tables train, and save / load with the config field; a config without it refuses such weights', async () => {
  const model = ShowoModel.random(GRID, 7);
  model.addImagePositionEmbedding();
  const x = ids(SEQ);
  const m = omni(SEQ.length);
  const rowVar = model.namedVariables().get('showo.model.image_row_embed.weight')!;
  const { grads, value } = tf.variableGrads(() => tf.mean(tf.square(model.forward(x, m))) as tf.Scalar, model.trainableVariables());
  assert.ok(grads[rowVar.name]!.dataSync().some((v) => v !== 0), 'zero-initialised tables still receive gradients');
  tf.dispose([value, ...Object.values(grads)]);
  randomiseTables(model, 9);
  const out = path.join(tmpDir('image-pos'), 'model');
  await model.save(out);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).image_position_embedding, 'row_col');
  const loaded = await ShowoModel.load(out);
  const a = model.forward(x, m);
  const b = loaded.forward(x, m);
  assert.ok(maxDiff(a, b) < 1e-6);
  // The same weights under a config without the field: the extra tensors are named in a typed error.
  const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
  delete cfg.image_position_embedding;
  fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify(cfg));
  await assert.rejects(ShowoModel.load(out), (e: unknown) => e instanceof CheckpointMismatchError && /image_row_embed/.test((e as Error).message));
  assert.throws(() => validateShowoConfig({ ...TINY, image_position_embedding: 'row_col' }), ShowoConfigError, 'num_vq_tokens 8 is not a square');
  assert.throws(() => validateShowoConfig({ ...GRID, image_position_embedding: 'xy' as 'row_col' }), /row_col/);
  tf.dispose([x, a, b]);
  loaded.dispose();
  model.dispose();
});

// The forward API: mask forms, input embeddings, logits selection, argument errors.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@showo/runtime';
import { ShowoModel } from '@showo/showo-core';
import { TINY, maskFrom, maxDiff, randomIds, useBackend } from './helpers.js';

before(() => useBackend('wasm'));

test('allow-mask as AllowMask, bool tensor or 0/1 float tensor gives the same logits', () => {
  const model = ShowoModel.random(TINY, 21);
  const start = tf.memory().numTensors;
  const ids = randomIds(2, 9, TINY.vocab_size, 5);
  const m = maskFrom(2, 9, (q, k, b) => k <= q || (b === 1 && q > 4));
  const asBool = tf.tensor3d(m.data, [2, 9, 9], 'bool');
  const asFloat = tf.cast(asBool, 'float32');
  const a = model.forward(ids, m);
  const b = model.forward(ids, asBool);
  const c = model.forward(ids, asFloat);
  assert.equal(maxDiff(a, b), 0);
  assert.equal(maxDiff(a, c), 0);
  tf.dispose([ids, asBool, asFloat, a, b, c]);
  assert.equal(tf.memory().numTensors, start);
  model.dispose();
});

test('forwardEmbeds(embed(ids)) equals forward(ids); logits selections equal slices of the full logits', () => {
  const model = ShowoModel.random(TINY, 22);
  const ids = randomIds(2, 10, TINY.vocab_size, 6);
  const m = maskFrom(2, 10, (q, k) => k <= q);
  const full = model.forward(ids, m);
  const emb = model.embed(ids);
  const viaEmb = model.forwardEmbeds(emb, m);
  assert.equal(maxDiff(full, viaEmb), 0);
  const last = model.forward(ids, m, { logits: 'last' });
  const lastRef = tf.slice(full, [0, 9, 0], [2, 1, TINY.vocab_size]);
  assert.ok(maxDiff(last, lastRef) < 1e-5);
  const range = model.forward(ids, m, { logits: { start: 3, length: 4 } });
  const rangeRef = tf.slice(full, [0, 3, 0], [2, 4, TINY.vocab_size]);
  assert.ok(maxDiff(range, rangeRef) < 1e-5);
  assert.throws(() => model.forward(ids, m, { logits: { start: 8, length: 4 } }), InvalidArgumentError);
  tf.dispose([ids, full, emb, viaEmb, last, lastRef, range, rangeRef]);
  model.dispose();
});

test('logits of chosen rows equal those rows of the full logits, and so do their gradients', () => {
  const model = ShowoModel.random(TINY, 24);
  const start = tf.memory().numTensors;
  const ids = randomIds(2, 8, TINY.vocab_size, 7);
  const m = maskFrom(2, 8, (q, k) => k <= q);
  const rows = [11, 2, 15, 3]; // flat b·8 + t, in any order
  const V = TINY.vocab_size;
  const full = model.forward(ids, m);
  const picked = model.forward(ids, m, { logits: { rows } });
  assert.deepEqual(picked.shape, [1, rows.length, V]);
  const [ref, pickedRows] = tf.tidy(() => [tf.gather(full.reshape([16, V]), rows), picked.reshape([rows.length, V])]);
  assert.ok(maxDiff(pickedRows!, ref!) < 1e-5);
  // The loss of the chosen rows: same gradient through the row gather as through the full logits.
  const weights = tf.randomNormal([rows.length, V], 0, 1, 'float32', 3);
  const vars = [...model.namedVariables().values()];
  const viaRows = tf.variableGrads(() => tf.sum(tf.mul(model.forward(ids, m, { logits: { rows } }).reshape([rows.length, V]), weights)) as tf.Scalar, vars);
  const oneHot = tf.tensor2d(rows.flatMap((r) => Array.from({ length: 16 }, (_, i) => (i === r ? 1 : 0))), [rows.length, 16]);
  const viaFull = tf.variableGrads(() => tf.sum(tf.mul(tf.matMul(oneHot, model.forward(ids, m).reshape([16, V])), weights)) as tf.Scalar, vars);
  assert.ok(Math.abs(viaRows.value.dataSync()[0]! - viaFull.value.dataSync()[0]!) < 1e-4);
  for (const [name, g] of Object.entries(viaRows.grads)) assert.ok(maxDiff(g, viaFull.grads[name]!) < 1e-4, name);
  assert.throws(() => model.forward(ids, m, { logits: { rows: [16] } }), InvalidArgumentError);
  assert.throws(() => model.forward(ids, m, { logits: { rows: [] } }), InvalidArgumentError);
  tf.dispose([ids, full, picked, ref!, pickedRows!, weights, oneHot, viaRows.value, viaFull.value, ...Object.values(viaRows.grads), ...Object.values(viaFull.grads)]);
  assert.equal(tf.memory().numTensors, start);
  model.dispose();
});

test('bad inputs are InvalidArgumentError; a disposed model refuses work', () => {
  const model = ShowoModel.random(TINY, 23);
  const ids = randomIds(1, 4, TINY.vocab_size);
  assert.throws(() => model.forward(ids, maskFrom(1, 5, () => true)), /\[1, 4, 4\]/);
  assert.throws(() => model.forward(ids, { batch: 1, queries: 4, keys: 4, data: new Uint8Array(3) }), InvalidArgumentError);
  assert.throws(() => model.forward(tf.zeros([4], 'int32'), maskFrom(1, 4, () => true)), InvalidArgumentError);
  assert.throws(() => model.forwardEmbeds(tf.zeros([1, 4, 7]) as tf.Tensor3D, maskFrom(1, 4, () => true)), InvalidArgumentError);
  model.dispose();
  assert.equal(model.disposed, true);
  assert.throws(() => model.forward(ids, maskFrom(1, 4, () => true)), /disposed/);
  ids.dispose();
});

// Conformance of the forward pass with the official implementation (showo-tiny fixtures): logits of every case
// and the per-layer intermediates of the mmu case. The full check set (caches included) is checkForward in
// @showo/conformance; this test keeps the core package honest on its own.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { SafetensorsReader } from '@showo/runtime';
import { ShowoModel, parseShowoConfig } from '@showo/showo-core';
import { allowFromRows, readJson, tinyDir, useBackend } from './helpers.js';

const dir = tinyDir();
const TOL = 1e-4;

before(() => useBackend('wasm'));

function diff(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  assert.equal(ours.length, ref.length);
  let m = 0;
  for (let i = 0; i < ours.length; i++) m = Math.max(m, Math.abs(ours[i] - ref[i]));
  return m;
}

test('fixture config parses (phi_config + showo blocks; Show-o vocab, not Phi pre-resize vocab)', { skip: !dir }, () => {
  const c = parseShowoConfig(readJson(path.join(dir!, 'config.json')));
  assert.equal(c.vocab_size, 275);
  assert.equal(c.hidden_size, 64);
  assert.equal(c.num_attention_heads, 4);
  assert.equal(c.qk_layernorm, true);
  assert.equal(c.max_seq_length, 16);
});

test('logits of every forward.json case (and train_mixed) match the official ones within 1e-4', { skip: !dir }, async () => {
  const model = await ShowoModel.load(dir!);
  const fwd = readJson(path.join(dir!, 'forward.json'));
  const masks = readJson(path.join(dir!, 'masks.json'));
  const reader = SafetensorsReader.open(path.join(dir!, 'forward.safetensors'));
  const start = tf.memory().numTensors;
  try {
    const cases = [
      ...fwd.cases.map((c: any) => ({ name: c.name, ids: c.input_ids, rows: masks.cases[c.mask.split(':')[1]].allow_rows, logits: c.logits })),
      { name: 'train_mixed', ids: fwd.train_mixed.input_ids, rows: fwd.train_mixed.attention_mask_allow_rows, logits: fwd.train_mixed.logits },
    ];
    assert.ok(cases.length >= 6);
    for (const c of cases) {
      const ids = tf.tensor2d(c.ids, undefined, 'int32');
      const logits = model.forward(ids, allowFromRows(c.rows, c.ids.length));
      const ref = reader.read(c.logits.split(':')[1]);
      assert.deepEqual(logits.shape, ref.shape);
      const d = diff(logits.dataSync(), ref.data);
      assert.ok(d < TOL, `${c.name}: max abs diff ${d}`);
      tf.dispose([ids, logits]);
    }
    assert.equal(tf.memory().numTensors, start, 'forward leaked tensors');
  } finally {
    reader.close();
    model.dispose();
  }
});

test('mmu debug intermediates match layer by layer (QK-norm before RoPE, heads-first layout)', { skip: !dir }, async () => {
  const model = await ShowoModel.load(dir!);
  const fwd = readJson(path.join(dir!, 'forward.json'));
  const masks = readJson(path.join(dir!, 'masks.json'));
  const reader = SafetensorsReader.open(path.join(dir!, 'forward.safetensors'));
  try {
    const c = fwd.cases.find((x: any) => x.name === fwd.debug_intermediates.case);
    const seen = new Map<string, { shape: number[]; data: Float32Array }>();
    const ids = tf.tensor2d(c.input_ids, undefined, 'int32');
    tf.dispose([
      ids,
      model.forward(ids, allowFromRows(masks.cases[c.mask.split(':')[1]].allow_rows, c.input_ids.length), {
        onIntermediate: (name, t) => seen.set(name, { shape: t.shape, data: t.dataSync() as Float32Array }),
      }),
    ]);
    for (const [name, shape] of Object.entries(fwd.debug_intermediates.names as Record<string, number[]>)) {
      const mine = seen.get(name);
      assert.ok(mine, `no intermediate ${name}`);
      assert.deepEqual(mine.shape, shape, name);
      const d = diff(mine.data, reader.read(`${c.name}.debug.${name}`).data);
      assert.ok(d < TOL, `${name}: max abs diff ${d}`);
    }
  } finally {
    reader.close();
    model.dispose();
  }
});

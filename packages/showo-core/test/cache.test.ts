// KV cache (autoregressive decoding) and prefix cache (MaskGIT with CFG) must equal full recomputation.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { CacheMismatchError, ShowoModel } from '@showo/showo-core';
import { InvalidArgumentError } from '@showo/runtime';
import { TINY, maskFrom, maxDiff, randomIds, rows, useBackend } from './helpers.js';

before(() => useBackend('wasm'));

test('KV cache: prompt prefill + multi-token and single-token appends equal the full causal forward (1e-4)', () => {
  const model = ShowoModel.random(TINY, 3);
  const start = tf.memory().numTensors;
  const [B, L] = [2, 14];
  const ids = randomIds(B, L, TINY.vocab_size, 7);
  // Causal, plus a left-padded row 1 whose first 3 positions are blocked as keys (pads still count as positions).
  const mask = maskFrom(B, L, (q, k, b) => k <= q && (b === 0 || k >= 3 || k === q));
  const full = model.forward(ids, mask);
  const cache = model.emptyCache(B);
  const cuts = [0, 6, 7, 8, 11, 14];
  for (let s = 0; s + 1 < cuts.length; s++) {
    const [a, b] = [cuts[s], cuts[s + 1]];
    const chunk = tf.slice(ids, [0, a], [B, b - a]);
    const got = model.forwardWithCache(chunk, rows(mask, a, b, b), cache, { append: true });
    const want = tf.slice(full, [0, a, 0], [B, b - a, TINY.vocab_size]);
    const d = maxDiff(got, want);
    assert.ok(d < 1e-4, `chunk ${a}..${b}: ${d}`);
    assert.equal(cache.length, b);
    tf.dispose([chunk, got, want]);
  }
  // 'last' gives the final position only (what a decoder samples from).
  const next = tf.tensor2d([[5], [6]], [2, 1], 'int32');
  const last = model.forwardWithCache(next, { batch: B, queries: 1, keys: L + 1, data: new Uint8Array(B * (L + 1)).fill(1) }, cache, { append: false, logits: 'last' });
  assert.deepEqual(last.shape, [B, 1, TINY.vocab_size]);
  assert.equal(cache.length, L, 'append: false must not grow the cache');
  tf.dispose([next, last, full, ids]);
  cache.dispose();
  assert.equal(tf.memory().numTensors, start, 'cache or forward leaked tensors');
  model.dispose();
});

test('prefix cache with CFG (2B rows): image block against the cached text prefix equals the full forward (1e-4)', () => {
  const model = ShowoModel.random(TINY, 4);
  const start = tf.memory().numTensors;
  const B2 = 4; // cond rows then uncond rows
  const P = 6; // text prefix: [PAD]… <|t2i|> BOS text EOS
  const N = TINY.num_vq_tokens;
  const L = P + N + 2; // + <|soi|> image <|eoi|>
  const pads = [0, 2, 4, 4]; // left padding per row
  const ids = randomIds(B2, L, TINY.vocab_size, 11);
  // predict_next with rm_pad_in_image: text causal; image rows see everything but pads.
  const mask = maskFrom(B2, L, (q, k, b) => (k < pads[b] && q >= pads[b] ? false : q < P ? k <= q : true));
  const full = model.forward(ids, mask);
  const prefixIds = tf.slice(ids, [0, 0], [B2, P]);
  const cache = model.prefill(prefixIds, rows(mask, 0, P, P));
  assert.equal(cache.length, P);
  const want = tf.slice(full, [0, P + 1, 0], [B2, N, TINY.vocab_size]);
  const afterPrefill = tf.memory().numTensors;
  for (let step = 0; step < 3; step++) {
    // every MaskGIT step changes the image tokens; the prefix is reused untouched
    const block = step === 0 ? tf.slice(ids, [0, P], [B2, N + 2]) : randomIds(B2, N + 2, TINY.vocab_size, 100 + step);
    const got = model.forwardWithCache(block, rows(mask, P, L, L), cache, { append: false, logits: { start: 1, length: N } });
    assert.deepEqual(got.shape, [B2, N, TINY.vocab_size]);
    if (step === 0) {
      const d = maxDiff(got, want);
      assert.ok(d < 1e-4, `prefix-cached image logits differ by ${d}`);
    } else {
      const fullIds = tf.concat([prefixIds, block], 1);
      const ref = model.forward(fullIds, mask, { logits: { start: P + 1, length: N } });
      const d = maxDiff(got, ref);
      assert.ok(d < 1e-4, `step ${step}: ${d}`);
      tf.dispose([fullIds, ref]);
    }
    assert.equal(cache.length, P);
    tf.dispose([block, got]);
    assert.equal(tf.memory().numTensors, afterPrefill, 'a cached step leaked tensors');
  }
  tf.dispose([want, full, ids, prefixIds]);
  cache.dispose();
  assert.equal(tf.memory().numTensors, start);
  model.dispose();
});

test('cache misuse is a typed error and leaks nothing', () => {
  const a = ShowoModel.random(TINY, 1);
  const b = ShowoModel.random(TINY, 2);
  const start = tf.memory().numTensors;
  const ids = randomIds(2, 3, TINY.vocab_size);
  const cache = a.prefill(ids, maskFrom(2, 3, (q, k) => k <= q));
  const one = tf.tensor2d([[1], [2]], [2, 1], 'int32');
  const rowsOk = { batch: 2, queries: 1, keys: 4, data: new Uint8Array(8).fill(1) };
  assert.throws(() => b.forwardWithCache(one, rowsOk, cache, { append: true }), CacheMismatchError);
  const three = tf.tensor2d([[1], [2], [3]], [3, 1], 'int32');
  assert.throws(() => a.forwardWithCache(three, { batch: 3, queries: 1, keys: 4, data: new Uint8Array(12) }, cache, { append: true }), CacheMismatchError);
  assert.throws(() => a.forwardWithCache(one, { batch: 2, queries: 1, keys: 1, data: new Uint8Array(2) }, cache, { append: true }), InvalidArgumentError);
  assert.throws(() => a.forward(tf.tensor2d([[1.5]], [1, 1]), maskFrom(1, 1, () => true)), InvalidArgumentError);
  assert.equal(cache.length, 3, 'a failed call must not change the cache');
  cache.dispose();
  assert.throws(() => a.forwardWithCache(one, rowsOk, cache, { append: true }), CacheMismatchError);
  tf.dispose([ids, one, three]);
  assert.ok(tf.memory().numTensors <= start + 1); // + the float ids tensor made inline above
  a.dispose();
  b.dispose();
});

test('selectRows: each cache row continues the history of the row it was taken from (beam search)', () => {
  const model = ShowoModel.random(TINY, 5);
  const start = tf.memory().numTensors;
  const [B, L] = [3, 6];
  const ids = randomIds(B, L, TINY.vocab_size, 11);
  const causal = maskFrom(B, L, (q, k) => k <= q);
  const cache = model.prefill(ids, causal);
  cache.selectRows([2, 2, 0]);
  const next = tf.tensor2d([[4], [9], [4]], [B, 1], 'int32');
  const got = model.forwardWithCache(next, { batch: B, queries: 1, keys: L + 1, data: new Uint8Array(B * (L + 1)).fill(1) }, cache, { append: true, logits: 'last' });
  // The same rows without a cache: source rows 2, 2, 0 with the new tokens appended.
  const source = ids.arraySync() as number[][];
  const full = tf.tensor2d([[...source[2]!, 4], [...source[2]!, 9], [...source[0]!, 4]], [B, L + 1], 'int32');
  const want = tf.tidy(() => tf.slice(model.forward(full, maskFrom(B, L + 1, (q, k) => k <= q)), [0, L, 0], [B, 1, TINY.vocab_size]));
  assert.ok(maxDiff(got, want) < 1e-4, `selected rows: ${maxDiff(got, want)}`);
  assert.equal(cache.length, L + 1);
  assert.throws(() => cache.selectRows([0, 1]), CacheMismatchError, 'the batch size is kept');
  assert.throws(() => cache.selectRows([0, 1, 3]), CacheMismatchError, 'rows must exist');
  tf.dispose([ids, next, got, full, want]);
  cache.dispose();
  assert.throws(() => cache.selectRows([0, 1, 2]), CacheMismatchError, 'a disposed cache');
  assert.equal(tf.memory().numTensors, start, 'selectRows frees the keys and values it replaces');
  model.dispose();
});

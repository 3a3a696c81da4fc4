// The engine module (engine.ts) on a DualEngine: a prefix cache per engine and session, image logits equal to the
// single-engine prefix cache on 2B rows, nothing left behind on either engine.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, WorkerError, type DualEngine, type NamedTensors } from '@showo/runtime';
import { SHOWO_ENGINE_MODULE, ShowoModel, createShowoEngine, type AllowMaskLike } from '@showo/showo-core';
import { TINY, maskFrom, randomIds, rows, useBackend } from './helpers.js';

const [B, P, T] = [2, 6, TINY.num_vq_tokens + 2];
const L = P + T;
let model: ShowoModel;
let engine: DualEngine;

before(async () => {
  await useBackend('wasm');
  model = ShowoModel.random(TINY, 5);
  engine = await createShowoEngine(model, { workers: 2 });
});

after(async () => {
  await engine?.dispose();
  model?.dispose();
});

const boolOf = (m: AllowMaskLike): tf.Tensor3D => tf.tensor3d(m.data, [m.batch, m.queries, m.keys], 'bool');
/** Rows [b0, b1) of a host mask. */
function batchRows(m: AllowMaskLike, b0: number, b1: number): AllowMaskLike {
  const size = m.queries * m.keys;
  return { batch: b1 - b0, queries: m.queries, keys: m.keys, data: m.data.slice(b0 * size, b1 * size) };
}
/** Prefix rows [0, P) over keys [0, P). */
function prefixOf(m: AllowMaskLike): AllowMaskLike {
  const r = rows(m, 0, P, L);
  const out = new Uint8Array(r.batch * P * P);
  for (let i = 0; i < r.batch * P; i++) out.set(r.data.subarray(i * L, i * L + P), i * P);
  return { batch: r.batch, queries: P, keys: P, data: out };
}

test('the module URL points at an existing engine module (engine.ts from sources)', () => {
  const file = fileURLToPath(SHOWO_ENGINE_MODULE);
  assert.ok(/engine\.(ts|js)$/.test(file) && fs.existsSync(file), file);
  assert.equal(engine.workers, 2);
});

test('cond rows on the main thread, uncond rows in the worker: identical to one prefix cache over 2B rows', async () => {
  const before = tf.memory().numTensors;
  const workerBefore = (await engine.workerMemory())!.numTensors;
  const rowsAll = 2 * B;
  // Prefix rows see only the prefix (causal with a left pad in row 1); block rows see everything before them.
  const mask = maskFrom(rowsAll, L, (q, k, b) => (q < P ? k <= q && (b % 2 === 0 || k >= 1 || k === q) : k < P ? b % 2 === 0 || k >= 1 : true));
  const ids = randomIds(rowsAll, L, TINY.vocab_size, 11);
  const prefixIds = tf.slice(ids, [0, 0], [rowsAll, P]);
  const blockIds = tf.slice(ids, [0, P], [rowsAll, T]);
  const n = TINY.num_vq_tokens;
  const offset = TINY.llm_vocab_size + TINY.num_new_special_tokens;

  // Single engine: one cache over the 2B rows.
  const cache = model.prefill(prefixIds, prefixOf(mask));
  const full = model.forwardWithCache(blockIds, rows(mask, P, L, L), cache, { append: false, logits: { start: 1, length: n } });
  const want = tf.slice(full, [0, 0, offset], [rowsAll, n, TINY.codebook_size]);

  const half = (b0: number): NamedTensors => {
    const m = batchRows(mask, b0, b0 + B);
    return { ids: tf.slice(prefixIds, [b0, 0], [B, P]), allow: boolOf(prefixOf(m)), blockAllow: boolOf(rows(m, P, L, L)) };
  };
  const inputs: [NamedTensors, NamedTensors] = [half(0), half(B)];
  const options = { config: TINY, session: 's1' };
  tf.dispose((await engine.runPair('prefill', inputs, options)).flatMap((o) => (o instanceof tf.Tensor ? [o] : Object.values(o))));
  assert.ok((await engine.workerMemory())!.numTensors > workerBefore, 'the worker keeps its cache');
  for (let step = 0; step < 2; step++) {
    const blocks: [NamedTensors, NamedTensors] = [{ block: tf.slice(blockIds, [0, 0], [B, T]) }, { block: tf.slice(blockIds, [B, 0], [B, T]) }];
    const [c, u] = (await engine.runPair('imageLogits', blocks, { ...options, start: 1, length: n, columns: { start: offset, count: TINY.codebook_size } })) as tf.Tensor[];
    assert.deepEqual(c.shape, [B, n, TINY.codebook_size]);
    const got = tf.concat([c, u], 0);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]);
    assert.equal(d, 0, `step ${step}: max |Δ| ${d}`);
    tf.dispose([c, u, got, ...blocks.flatMap((x) => Object.values(x))]);
  }
  tf.dispose((await engine.runPair('release', [{}, {}], options)).flatMap((o) => (o instanceof tf.Tensor ? [o] : Object.values(o))));
  tf.dispose([...inputs.flatMap((x) => Object.values(x)), full, want, ids, prefixIds, blockIds]);
  cache.dispose();
  assert.equal(tf.memory().numTensors, before, 'main thread');
  assert.equal((await engine.workerMemory())!.numTensors, workerBefore, 'worker');
});

test('imageLogits without a prefill names the session; resetState frees every session', async () => {
  const workerBefore = (await engine.workerMemory())!.numTensors;
  const block = tf.zeros([1, T], 'int32');
  await assert.rejects(engine.runPair('imageLogits', [{ block }, { block }], { config: TINY, session: 'nope', start: 1, length: 4 }), (e: unknown) => {
    assert.ok(e instanceof InvalidArgumentError && !(e instanceof WorkerError), String(e)); // the main thread's half fails first
    assert.match((e as Error).message, /no prefix cache for session "nope"/);
    return true;
  });
  const mask = maskFrom(1, L, (q, k) => k <= q);
  const mk = (): NamedTensors => ({ ids: tf.zeros([1, P], 'int32'), allow: boolOf(prefixOf(mask)), blockAllow: boolOf(rows(mask, P, L, L)) });
  const a = mk();
  const b = mk();
  const before = tf.memory().numTensors;
  for (const session of ['x', 'y']) await engine.runPair('prefill', [a, b], { config: TINY, session });
  assert.ok(tf.memory().numTensors > before);
  await engine.resetState();
  assert.equal(tf.memory().numTensors, before);
  assert.equal((await engine.workerMemory())!.numTensors, workerBefore);
  tf.dispose([block, ...Object.values(a), ...Object.values(b)]);
  // The model's weights survived resetState (the cached model view only borrows them).
  assert.doesNotThrow(() => tf.dispose(model.forward(tf.zeros([1, 3], 'int32'), maskFrom(1, 3, (q, k) => k <= q))));
});

test('forward under runTensorParallel: half of every layer on each engine gives the logits of one forward', async () => {
  const ids = randomIds(B, L, TINY.vocab_size, 9);
  const mask = maskFrom(B, L, (q, k) => k <= q || (q >= P && k >= P));
  const allow = boolOf(mask);
  const want = model.forward(ids, mask);
  const floats = B * L * TINY.hidden_size;
  for (const logits of [undefined, { start: P, length: T }] as const) {
    const got = (await engine.runTensorParallel('forward', { ids, allow }, { config: TINY, logits }, floats)) as tf.Tensor;
    const ref = logits ? tf.slice(want, [0, P, 0], [B, T, TINY.vocab_size]) : want;
    assert.deepEqual(got.shape, ref.shape);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(got, ref))).dataSync()[0]);
    assert.ok(diff < 1e-4, `logits differ by ${diff}`);
    tf.dispose(logits ? [got, ref] : [got]);
  }
  // The shares are cached per engine and rebuilt after the weights change (weightsVersion).
  const workerBefore = (await engine.workerMemory())!.numTensors;
  const mainBefore = tf.memory().numTensors;
  tf.dispose((await engine.runTensorParallel('forward', { ids, allow }, { config: TINY, weightsVersion: 1 }, floats)) as tf.Tensor);
  assert.equal(tf.memory().numTensors, mainBefore, 'the new share replaced the old one on the main thread');
  assert.equal((await engine.workerMemory())!.numTensors, workerBefore, 'and in the worker');
  // Run alone (no tensor parallelism) it is the plain forward.
  const alone = (await engine.run('forward', { ids, allow }, { config: TINY })) as tf.Tensor;
  assert.equal(tf.tidy(() => tf.max(tf.abs(tf.sub(alone, want))).dataSync()[0]), 0);
  await engine.resetState();
  tf.dispose([ids, allow, want, alone]);
});

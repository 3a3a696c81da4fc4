import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Container } from 'inversify';
import { lastValueFrom, toArray } from 'rxjs';
import { SeededRandom } from '@showo/runtime';
import { toAllowRows } from '@showo/omni-attention';
import { INTERLEAVED_ATTENTION, PROMPTING_TYPES, TaskAlreadyRegisteredError, UnknownTaskError, promptingModule, type TaskRegistry } from '@showo/prompting';
import { randomScene, renderScene } from '@showo/shapes-world';
import { ShowoModel } from '@showo/showo-core';
import { IGNORE_INDEX } from '@showo/trainer';
import {
  COUNT_TOKEN,
  CountTask,
  PLUGIN_COUNT_TYPES,
  PluginVocabularyMismatchError,
  ShapesWorldCountData,
  attachPlugins,
  buildCountBatch,
  countObjects,
  countPluginModule,
  countResult,
  countTask,
  fineTuneCount,
  parseCount,
  readPluginManifest,
  registerCountTask,
  savePluginModel,
  type CountEvent,
} from '@showo/plugin-count';
import { tinyWorld } from './helpers.js';

test('the plugin registers <|count|> after [MASK] with its prompt and attention rule; registering twice is a typed error', async () => {
  const w = await tinyWorld();
  const base = w.layout.baseVocabSize;
  const task = registerCountTask(w.registry);
  assert.equal(task.tokenId, base, 'the new token is appended after [MASK]; no existing id moves');
  assert.equal(w.layout.maskId, base - 1);
  assert.equal(w.layout.vocabSize, base + 1);
  assert.equal(w.layout.special(COUNT_TOKEN), base);

  // Taken: the same task again, or a plugin that claims the token (or an official one).
  assert.throws(() => registerCountTask(w.registry), TaskAlreadyRegisteredError);
  assert.throws(() => w.registry.register({ ...countTask, name: 'count2' }), TaskAlreadyRegisteredError);
  assert.throws(() => w.registry.register({ name: 'mine', token: '<|mmu|>', attention: INTERLEAVED_ATTENTION, build: () => ({ task: 'mine', inputIds: [], attentionMask: [] }) }), TaskAlreadyRegisteredError);

  // Prompt: <|count|> <|soi|> image <|eoi|> BOS answer EOS, right-padded; mask: task token + image one block.
  const N = w.prompting.numVqTokens;
  const img = Array.from({ length: N }, (_, i) => w.layout.imageOffset + (i % 7));
  const batch = buildCountBatch(w.registry, [
    { imageIds: img, count: 2 },
    { imageIds: img, count: 'one' },
  ]);
  const L = batch.length;
  assert.equal(L, N + 4 + 2);
  const row0 = Array.from(batch.inputIds.subarray(0, L));
  assert.deepEqual(row0.slice(0, 2), [base, w.layout.special('<|soi|>')]);
  assert.deepEqual(row0.slice(N + 2), [w.layout.special('<|eoi|>'), w.layout.bosId, w.tokenizer.encode('two')[0], w.layout.eosId]);
  // Targets: the answer and EOS, each predicted from the position before.
  const targets = Array.from(batch.targets.subarray(0, L)).map((t, i) => [i, t]).filter(([, t]) => t !== IGNORE_INDEX);
  assert.deepEqual(targets, [
    [N + 3, w.tokenizer.encode('two')[0]],
    [N + 4, w.layout.eosId],
  ]);
  const rows = toAllowRows(batch.allow);
  assert.equal(rows[0], '1'.repeat(N + 3) + '0'.repeat(3), 'the task token sees the whole image (and <|eoi|>)');
  assert.equal(rows[N + 3], '1'.repeat(N + 4) + '00', 'the answer is causal text after the block');
  w.model.dispose();
});

test('the model grows one row per plugin token (existing rows kept); a vocabulary that does not match is a typed error', async () => {
  const w = await tinyWorld();
  const emb = (m: ShowoModel) => m.namedVariables().get('showo.model.embed_tokens.weight')!;
  const before = emb(w.model).arraySync() as number[][];
  registerCountTask(w.registry);
  assert.equal(attachPlugins(w.model, w.layout, { rng: new SeededRandom(1) }), 1);
  assert.equal(w.model.config.vocab_size, w.layout.vocabSize);
  const after = emb(w.model).arraySync() as number[][];
  assert.deepEqual(after.slice(0, before.length), before, 'existing embedding rows are kept');
  assert.equal(attachPlugins(w.model, w.layout), 0, 'already grown: nothing to do');

  // Saved with plugins.json; loaded back against the same plugins: fine.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'showo-plugin-'));
  try {
    await savePluginModel(w.model, dir, w.layout);
    assert.deepEqual(readPluginManifest(dir), [COUNT_TOKEN]);
    const loaded = await ShowoModel.load(dir);
    assert.equal(attachPlugins(loaded, w.layout, { recorded: readPluginManifest(dir) }), 0);

    // The same checkpoint against a layout with other plugins: refused.
    const other = await tinyWorld();
    other.registry.register({ ...countTask, name: 'recolor', token: '<|recolor|>' });
    assert.throws(() => attachPlugins(loaded, other.layout, { recorded: readPluginManifest(dir), rng: new SeededRandom(0) }), PluginVocabularyMismatchError);
    // More rows than the registered plugins (a checkpoint grown for two plugins, only one registered).
    const two = await tinyWorld();
    two.model.resizeVocab(two.layout.baseVocabSize + 2, new SeededRandom(0));
    registerCountTask(two.registry);
    assert.throws(() => attachPlugins(two.model, two.layout, { rng: new SeededRandom(0) }), PluginVocabularyMismatchError);
    // A base checkpoint when growing is off.
    const three = await tinyWorld();
    registerCountTask(three.registry);
    assert.throws(() => attachPlugins(three.model, three.layout, { grow: false }), (e: unknown) => e instanceof PluginVocabularyMismatchError && e.code === 'PLUGIN_VOCABULARY_MISMATCH');
    for (const m of [loaded, other.model, two.model, three.model]) m.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  w.model.dispose();
});

test('fine-tuning with the trainer lowers the count loss; the pipeline answers with counts and frees every tensor', async () => {
  const w = await tinyWorld(4);
  registerCountTask(w.registry);
  attachPlugins(w.model, w.layout, { rng: new SeededRandom(2) });
  const held = await new ShapesWorldCountData({ registry: w.registry, encoder: w.encoder, seed: 99, batch: 24 }).next();
  const task = new CountTask(w.model);
  const lossBefore = task.evaluate(held.value);
  const tensors = tf.memory().numTensors;
  const events = await lastValueFrom(fineTuneCount({ model: w.model, registry: w.registry, encoder: w.encoder, steps: 12, lr: 1e-2, batch: 16, seed: 1 }).pipe(toArray()));
  assert.equal(tf.memory().numTensors, tensors, 'training frees everything but the model');
  const steps = events.filter((e) => e.type === 'step');
  assert.equal(steps.length, 12);
  const lossAfter = task.evaluate(held.value);
  assert.ok(lossAfter < 0.6 * lossBefore, `count loss ${lossBefore.toFixed(3)} → ${lossAfter.toFixed(3)}`);

  // The pipeline: images (codes or pixels through a codec) → answers and counts.
  const rng = new SeededRandom(5);
  const scenes = [randomScene(rng), randomScene(rng)];
  const codes = w.encoder.encode(scenes.map((s) => renderScene(s)), 64);
  const codec = {
    patchSize: 16,
    encode: (images: readonly { data: ArrayLike<number> }[]) => w.encoder.encode(images.map((i) => Uint8Array.from(i.data)), 64),
    decode: () => [],
  };
  const before = tf.memory().numTensors;
  const deps = { model: w.model, registry: w.registry, codec };
  const stream = countObjects(deps, { images: [{ codes: codes[0]! }, { image: { width: 64, height: 64, data: renderScene(scenes[1]!) } }] });
  const all: CountEvent[] = await lastValueFrom(stream.pipe(toArray()));
  assert.equal(all[0]!.type, 'start');
  const done = all.at(-1)!;
  assert.ok(done.type === 'done');
  assert.equal(done.result.answers.length, 2);
  assert.ok(done.result.counts.every((c) => c === null || (c >= 1 && c <= 3)), JSON.stringify(done.result));
  assert.ok(done.result.answers.every((a) => ['one', 'two', 'three'].includes(a)), `after fine-tuning the answers are count words: ${done.result.answers}`);
  assert.equal(tf.memory().numTensors, before);
  // Abort before it starts: nothing; abort mid-way: completes without a result; tensors freed either way.
  const controller = new AbortController();
  const partial = countObjects(deps, { images: [{ codes: codes[0]! }], signal: controller.signal });
  const p = countResult(partial);
  controller.abort();
  assert.equal(await p, undefined);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(parseCount('Two.'), 2);
  assert.equal(parseCount('blue'), null);
  w.model.dispose();
});

test('the pipeline needs the task registered; the DI module registers it on the application registry', async () => {
  const w = await tinyWorld();
  assert.throws(() => countObjects({ model: w.model, registry: w.registry }, { images: [{ codes: new Array(16).fill(0) }] }), UnknownTaskError);
  const container = new Container();
  container.load(promptingModule({ layout: { llmVocabSize: w.layout.llmVocabSize, codebookSize: 7, bosId: w.layout.bosId }, config: { maxSeqLength: 16, numVqTokens: 16 } }));
  container.load(countPluginModule());
  const task = container.get<{ tokenId: number }>(PLUGIN_COUNT_TYPES.CountTask);
  const registry = container.get<TaskRegistry>(PROMPTING_TYPES.TaskRegistry);
  assert.equal(registry.get('count').tokenId, task.tokenId);
  assert.equal(registry.layout.vocabSize, registry.layout.baseVocabSize + 1);
  w.model.dispose();
});

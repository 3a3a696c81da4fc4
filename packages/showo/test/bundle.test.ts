import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ShowoModel, type ShowoConfig } from '@showo/showo-core';
import { createShowo, defaultModelDir, loadModelBundle, ModelBundleError, resolveModelBundle } from '@showo/showo';
import { HF_VOCAB_SIZE, backend, copyTree, hfTokenizerJson, tempDir, tinyBundle } from './helpers.js';

test('the embedded layout is resolved without tensors: configs, tokenizer, grid, image size, generation defaults', async () => {
  const dir = await tinyBundle();
  const before = tf.memory().numTensors;
  const b = resolveModelBundle(dir);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(b.layout, 'embedded');
  assert.equal(b.dir, path.resolve(dir));
  assert.equal(b.showo.dir, path.join(dir, 'showo'));
  assert.equal(b.text.kind, 'word');
  assert.deepEqual(b.text.tokenizer.encode('a red circle').length, 3);
  assert.deepEqual(b.grid, { height: 8, width: 8 });
  assert.equal(b.patchSize, 8);
  assert.equal(b.imageSize, 64);
  assert.deepEqual(b.prompting, { maxSeqLength: 40, numVqTokens: 64 });
  assert.deepEqual(b.generation.t2i, { steps: 4, guidanceScale: 0, temperature: 1, schedule: 'cosine' });
  assert.equal(b.layoutOptions.llmVocabSize, b.text.tokenizer.vocabSize);
});

test('generation.code_temperature is read per task and reaches the sampler; a bad value is a typed error', async () => {
  const dir = copyTree(await tinyBundle(), path.join(tempDir(), 'm'));
  const file = path.join(dir, 'showo', 'config.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  json.generation = { ...json.generation, code_temperature: 0.7, howto: { code_temperature: 0 } };
  fs.writeFileSync(file, JSON.stringify(json));
  const b = resolveModelBundle(dir);
  assert.equal(b.generation.t2i.codeTemperature, 0.7);
  assert.equal(b.generation.edit.codeTemperature, 0.7);
  assert.equal(b.generation.howto.codeTemperature, 0);
  const showo = await createShowo({ model: dir });
  try {
    await assert.rejects(showo.t2i('a red circle', { codeTemperature: -1 }).result(), (e: unknown) => e instanceof Error && /codeTemperature/.test(e.message));
  } finally {
    await showo.dispose();
  }
  json.generation.code_temperature = -2;
  fs.writeFileSync(file, JSON.stringify(json));
  assert.throws(() => resolveModelBundle(dir), (e: unknown) => e instanceof ModelBundleError && e.problem === 'INVALID' && /code_temperature/.test(e.message));
});

test('generation.answer.num_beams makes beam search the default answer; sampling options override it', async () => {
  const dir = copyTree(await tinyBundle(), path.join(tempDir(), 'm'));
  const file = path.join(dir, 'showo', 'config.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  const plain = await createShowo({ model: dir });
  json.generation = { ...json.generation, answer: { num_beams: 3, length_penalty: 0 } };
  fs.writeFileSync(file, JSON.stringify(json));
  const b = resolveModelBundle(dir);
  assert.equal(b.generation.answer.numBeams, 3);
  assert.equal(b.generation.answer.lengthPenalty, 0);
  const beams = await createShowo({ model: dir });
  try {
    const image = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).fill(90) };
    const question = 'what color is the circle?';
    const byDefault = await beams.answer(image, question, { maxNewTokens: 4 }).result();
    const explicit = await plain.answer(image, question, { maxNewTokens: 4, numBeams: 3, lengthPenalty: 0 }).result();
    assert.deepEqual(byDefault.tokens, explicit.tokens);
    assert.ok(byDefault.logProbs && byDefault.logProbs.length === 1, 'a beam-search result carries its log-probabilities');
    const sampled = await beams.answer(image, question, { maxNewTokens: 4, temperature: 0.8, seed: 1 }).result();
    assert.equal(sampled.logProbs, undefined, 'a temperature asks for sampling, not the bundle\'s beams');
    await assert.rejects(plain.answer(image, question, { numBeams: 2, topK: 3 }).result(), /numBeams/);
  } finally {
    await beams.dispose();
    await plain.dispose();
  }
  json.generation.answer.num_beams = 0;
  fs.writeFileSync(file, JSON.stringify(json));
  assert.throws(() => resolveModelBundle(dir), (e: unknown) => e instanceof ModelBundleError && e.problem === 'INVALID' && /num_beams/.test(e.message));
});

test('an incomplete folder is one typed error naming every missing file; a missing folder says so', async () => {
  const dir = copyTree(await tinyBundle(), path.join(tempDir(), 'm'));
  fs.rmSync(path.join(dir, 'magvit', 'model.safetensors'));
  fs.rmSync(path.join(dir, 'showo', 'vocab.json'));
  assert.throws(
    () => resolveModelBundle(dir),
    (e: unknown) =>
      e instanceof ModelBundleError &&
      e.problem === 'INCOMPLETE' &&
      e.code === 'MODEL_BUNDLE_INCOMPLETE' &&
      e.missing.join() === 'showo/vocab.json,magvit/model.safetensors' &&
      !e.message.includes('\n') &&
      e.message.includes('magvit/model.safetensors'),
  );
  assert.throws(() => resolveModelBundle(path.join(dir, 'nope')), (e: unknown) => e instanceof ModelBundleError && e.problem === 'NOT_FOUND');
  const empty = tempDir();
  assert.throws(() => resolveModelBundle(empty), (e: unknown) => e instanceof ModelBundleError && e.problem === 'INCOMPLETE' && /embedded layout.*official layout/.test(e.message));
  // The showo/ half alone is recognised and the user pointed at its parent.
  assert.throws(() => resolveModelBundle(path.join(dir, 'showo')), (e: unknown) => e instanceof ModelBundleError && /pass the folder that holds showo\//.test(e.message));
  // createShowo refuses before choosing a backend or loading anything.
  await assert.rejects(createShowo({ model: dir }), (e: unknown) => e instanceof ModelBundleError && e.problem === 'INCOMPLETE');
});

test('inconsistent files are one-line INVALID errors (a vocabulary of the wrong size, an unreadable config)', async () => {
  const dir = copyTree(await tinyBundle(), path.join(tempDir(), 'm'));
  fs.writeFileSync(path.join(dir, 'showo', 'vocab.json'), JSON.stringify(['a', 'b', '<unk>', '<|endoftext|>']));
  assert.throws(() => resolveModelBundle(dir), (e: unknown) => e instanceof ModelBundleError && e.problem === 'INVALID' && /4 ids/.test(e.message) && !e.message.includes('\n'));
  fs.writeFileSync(path.join(dir, 'showo', 'config.json'), '{ not json');
  assert.throws(() => resolveModelBundle(dir), (e: unknown) => e instanceof ModelBundleError && e.problem === 'INVALID' && /config\.json/.test(e.message));
});

test('the default model folder is SHOWO_MODEL, else the repository models/shapes-world', () => {
  assert.equal(defaultModelDir({ SHOWO_MODEL: '/some/where' }), path.resolve('/some/where'));
  assert.match(defaultModelDir({}), /[/\\]models[/\\]shapes-world$/);
  assert.ok(fs.existsSync(path.join(path.dirname(path.dirname(defaultModelDir({}))), 'packages', 'showo')), 'resolved relative to the repository');
});

/** An official-layout folder: Show-o config + pytorch_model.safetensors, a BPE tokenizer, MAGVIT in magvitv2/. */
async function officialFolder(tokenizerInSubfolder: boolean): Promise<string> {
  await backend();
  const tiny = resolveModelBundle(await tinyBundle());
  const dir = tempDir('showo-official-');
  const config: ShowoConfig = {
    ...tiny.showo.config,
    llm_vocab_size: HF_VOCAB_SIZE,
    vocab_size: HF_VOCAB_SIZE + 10 + tiny.showo.config.codebook_size + 1,
    max_position_embeddings: 256,
  };
  delete config.max_seq_length; // as the release config.json: 128 is implied
  const model = ShowoModel.random(config, 5);
  await model.save(dir, { weightsFile: 'pytorch_model.safetensors' });
  model.dispose();
  const { max_seq_length: _drop, ...flat } = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ _class_name: 'Showo', ...flat }));
  const tokDir = tokenizerInSubfolder ? path.join(dir, 'tokenizer') : dir;
  fs.mkdirSync(tokDir, { recursive: true });
  fs.writeFileSync(path.join(tokDir, 'tokenizer.json'), JSON.stringify(hfTokenizerJson()));
  fs.writeFileSync(path.join(tokDir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<|endoftext|>', eos_token: '<|endoftext|>' }));
  fs.mkdirSync(path.join(dir, 'magvitv2'));
  fs.copyFileSync(tiny.magvit.configFile, path.join(dir, 'magvitv2', 'config.json'));
  fs.copyFileSync(tiny.magvit.weightsFile, path.join(dir, 'magvitv2', 'pytorch_model.safetensors'));
  return dir;
}

test('the official layout: Phi tokenizer beside the weights or in tokenizer/, MAGVIT in magvitv2/, official defaults', async () => {
  for (const sub of [false, true]) {
    const dir = await officialFolder(sub);
    const b = resolveModelBundle(dir);
    assert.equal(b.layout, 'official');
    assert.equal(b.text.kind, 'hf');
    assert.equal(b.showo.weightsFile, path.join(dir, 'pytorch_model.safetensors'));
    assert.equal(b.prompting.maxSeqLength, 128);
    assert.deepEqual(b.generation.t2i, { steps: 18, guidanceScale: 1.75, temperature: 1, schedule: 'cosine' });
    assert.equal(b.generation.inpaint.steps, 16);
    assert.equal(b.generation.answer.greedy, true);
  }
  const dir = await officialFolder(false);
  fs.rmSync(path.join(dir, 'tokenizer.json'));
  fs.rmSync(path.join(dir, 'magvitv2', 'pytorch_model.safetensors'));
  assert.throws(
    () => resolveModelBundle(dir),
    (e: unknown) => e instanceof ModelBundleError && e.problem === 'INCOMPLETE' && /official/.test(e.message) && /tokenizer\.json/.test(e.message) && /magvitv2\/pytorch_model/.test(e.message),
  );
});

test('an official folder runs end to end (BPE prompts, 128-token text budget)', async () => {
  const dir = await officialFolder(true);
  const showo = await createShowo({ model: dir, backend: 'wasm' });
  try {
    const image = await showo.t2i('red circle', { steps: 2, guidanceScale: 1 }).image();
    assert.equal(image.width, 64);
    assert.equal(typeof (await showo.answer(image, 'red', { maxNewTokens: 3 }).answer()), 'string');
  } finally {
    await showo.dispose();
  }
});

test('loadModelBundle loads both networks; dispose frees every tensor', async () => {
  await backend();
  const before = tf.memory().numTensors;
  const loaded = await loadModelBundle(await tinyBundle());
  assert.equal(loaded.model.config.num_vq_tokens, 64);
  assert.equal(loaded.magvit.downsampleFactor, 8);
  assert.ok(tf.memory().numTensors > before);
  loaded.dispose();
  assert.equal(tf.memory().numTensors, before);
});

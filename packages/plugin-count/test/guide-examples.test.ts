// The code of docs/guide-plugins.md and docs/guide-custom-pipelines.md. Every `#region NAME` below is shown in a
// guide under `<!-- guide-example: NAME -->`, and the last test checks that the guides show exactly this code (and
// that every `<!-- excerpt: FILE -->` block is a verbatim part of FILE), so the guides compile and run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { concatMap, lastValueFrom, toArray } from 'rxjs';
import { SeededRandom, initBackend } from '@showo/runtime';
import type { AllowMask } from '@showo/omni-attention';
import { TaskRegistry, TokenLayout, UniversalPrompting, WordTokenizer, buildWordVocabulary } from '@showo/prompting';
import { randomScene, renderScene, vocabularyWords } from '@showo/shapes-world';
import { MagvitTokenizer, codesToImages, createMagvitConfig, imagesToTensor } from '@showo/tokenizer-magvit';
import { ShowoModel, createShowoEngine, type ShowoConfig } from '@showo/showo-core';
import { PatchPaletteEncoder } from '@showo/trainer';
import { generateTokens, imageResult, magvitCodec, scoreTexts, textResult, textToImage, understand, type LogitsRange, type SequenceLogitsModel } from '@showo/sampler';
import { attachPlugins, countObjects, countResult, fineTuneCount, registerCountTask } from '@showo/plugin-count';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const THIS_FILE = fileURLToPath(import.meta.url);

test('guide-plugins: register, grow, fine-tune, use', async () => {
  await initBackend('wasm');
  // #region use-plugin
  // 1. The vocabulary of a checkpoint: text, Show-o's ten tokens, image codes, [MASK].
  const tokenizer = new WordTokenizer(buildWordVocabulary(vocabularyWords()));
  const encoder = new PatchPaletteEncoder(64, 16); // stands in for MAGVIT: 16 codes per image
  const layout = new TokenLayout({ llmVocabSize: tokenizer.vocabSize, codebookSize: encoder.codebookSize, bosId: tokenizer.bosId });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: 16, numVqTokens: encoder.tokensPerImage }, tokenizer);
  const config: ShowoConfig = {
    vocab_size: layout.baseVocabSize, llm_vocab_size: layout.llmVocabSize, num_new_special_tokens: 10,
    codebook_size: layout.codebookSize, num_vq_tokens: encoder.tokensPerImage, hidden_size: 32, intermediate_size: 64,
    num_hidden_layers: 1, num_attention_heads: 2, partial_rotary_factor: 0.5, qk_layernorm: true,
    layer_norm_eps: 1e-5, rope_theta: 10000, max_position_embeddings: 128, max_seq_length: 16,
  };
  const model = ShowoModel.random(config, 0); // or: await ShowoModel.load(dir)

  // 2. Register the plugin's task: <|count|> gets the first id after [MASK]; no existing id moves.
  const registry = new TaskRegistry(prompting);
  const task = registerCountTask(registry);
  console.log(task.tokenId === layout.baseVocabSize); // true

  // 3. Grow the model by one embedding / lm_head row (existing rows kept).
  attachPlugins(model, layout, { rng: new SeededRandom(1) });

  // 4. Fine-tune on the plugin's own task with the trainer's loop.
  await lastValueFrom(fineTuneCount({ model, registry, encoder, steps: 10, lr: 1e-2, batch: 16 }));

  // 5. Use it through its pipeline.
  const scene = randomScene(new SeededRandom(7));
  const [codes] = encoder.encode([renderScene(scene)], 64);
  const result = await countResult(countObjects({ model, registry }, { images: [{ codes: codes! }] }));
  console.log(result?.answers[0], result?.counts[0]); // e.g. "two" 2
  model.dispose();
  // #endregion
  assert.ok(result && result.answers.length === 1);
});

test('guide-custom-pipelines: tokenise images with tokenizer-magvit alone', async () => {
  await initBackend('wasm');
  const before = tf.memory().numTensors;
  // #region tokenize-images
  // A MAGVIT-v2 tokenizer (random weights here; loadMagvit(file) reads a trained one).
  const magvit = MagvitTokenizer.create(createMagvitConfig({ ch: 8, chMult: [1, 2], resolution: 64, codebookDim: 6, normGroups: 4 }), { seed: 1 });
  const scene = randomScene(new SeededRandom(3));
  const image = { width: 64, height: 64, data: renderScene(scene) }; // or: await readImage('in.png')

  const pixels = imagesToTensor([image]); // [1, 64, 64, 3] in [-1, 1]
  const codes = magvit.encodeToCodes(pixels); // [1, 32·32] int32: one code per 2×2 patch
  const ids = Array.from(codes.dataSync());
  tf.dispose([pixels, codes]);
  console.log(ids.length, Math.max(...ids) < 2 ** 6); // 1024 true

  const [decoded] = codesToImages(magvit, { data: ids, batch: 1 }); // back to 8-bit RGB
  console.log(decoded!.width, decoded!.height); // 64 64
  magvit.dispose();
  // #endregion
  assert.equal(ids.length, 1024);
  assert.equal(decoded!.width, 64);
  assert.equal(tf.memory().numTensors, before);
});

// #region own-transformer
/**
 * A user's own "transformer": anything with forward(ids, allow) → logits [B, L, V] works with the sampler.
 * This one ignores attention and keeps one learned row of logits per token id (a bigram table).
 */
class BigramModel implements SequenceLogitsModel {
  readonly table: tf.Variable;
  constructor(vocab: number, seed = 0) {
    // tidy frees the initial value; the variable (kept by tidy) is what the model owns.
    this.table = tf.tidy(() => tf.variable(tf.randomNormal([vocab, vocab], 0, 1, 'float32', seed)));
  }
  forward(ids: tf.Tensor, _allow: AllowMask, options?: { logits?: LogitsRange }): tf.Tensor3D {
    return tf.tidy(() => {
      const all = tf.gather(this.table, ids.toInt()) as tf.Tensor3D; // [B, L, V]
      const [b, l, v] = all.shape;
      // Optional: compute only the positions the sampler asks for (it slices itself otherwise).
      if (options?.logits === 'last') return tf.slice(all, [0, l - 1, 0], [b, 1, v]);
      return all;
    });
  }
  dispose(): void {
    this.table.dispose();
  }
}
// #endregion

test('guide-custom-pipelines: sampler + prompting with a user transformer, and streams composed with RxJS', async () => {
  await initBackend('wasm');
  const before = tf.memory().numTensors;
  // #region run-own-transformer
  const layout = new TokenLayout({ llmVocabSize: 50, codebookSize: 16, bosId: 49 });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: 8, numVqTokens: 16 });
  const mine = new BigramModel(layout.vocabSize);

  // MaskGIT text-to-image on the user's model (no cache: it has no prefill/forwardWithCache).
  const image = await imageResult(textToImage({ model: mine, prompting }, { prompts: [[1, 2, 3]], steps: 4, seed: 1 }));
  console.log(image!.codes[0]!.length); // 16

  // Autoregressive decoding on it.
  const text = await textResult(generateTokens({ model: mine, prompting }, { prompts: [[1, 2, 3]], maxNewTokens: 5, seed: 1 }));
  console.log(text!.tokens[0]); // five ids
  mine.dispose();
  // #endregion
  assert.equal(image!.codes[0]!.length, 16);
  assert.equal(text!.tokens[0]!.length <= 5, true);

  // #region compose-streams
  // Generate an image, then ask the model about it: two sampler streams composed with RxJS.
  const showo = ShowoModel.random(tinyConfig(layout), 2); // showo-core: a real Show-o (random weights)
  const deps = { model: showo, prompting };
  const events = await lastValueFrom(
    textToImage(deps, { prompts: [[1, 2]], steps: 3, seed: 4 }).pipe(
      concatMap((e) => (e.type === 'done' ? understand(deps, { images: [{ codes: e.result.codes[0]! }], questions: [[7, 8]], maxNewTokens: 3, seed: 4 }) : [e])),
      toArray(),
    ),
  );
  console.log(events.map((e) => e.type).join(' ')); // start step step step start token token token done
  showo.dispose();
  // #endregion
  assert.deepEqual(events.map((e) => e.type).slice(0, 4), ['start', 'step', 'step', 'step']);
  assert.equal(events.at(-1)!.type, 'done');
  assert.equal(tf.memory().numTensors, before);

  // #region best-of-n
  // The model as its own critic: how likely is a caption of an image, and best-of-N generation built on it.
  const critic = ShowoModel.random(tinyConfig(layout), 3);
  const scored = await scoreTexts({ model: critic, prompting }, { images: [{ codes: new Int32Array(16).fill(5) }], texts: [[1, 2]] });
  console.log(scored.logProbs[0]! < 0, scored.tokens[0]); // true 3  (two words and EOS)
  const best = await imageResult(textToImage({ model: critic, prompting }, { prompts: [[1, 2]], rerank: 4, steps: 3, seed: 0 }));
  console.log(best!.rerank!.scores[0]!.length, best!.rerank!.chosen[0]! < 4); // 4 true
  critic.dispose();
  // #endregion
  assert.equal(scored.tokens[0], 3);
  assert.equal(best!.rerank!.scores[0]!.length, 4);
  assert.equal(tf.memory().numTensors, before);
});

test('guide-custom-pipelines: a codec from a MAGVIT tokenizer plugs into the sampler', async () => {
  await initBackend('wasm');
  const layout = new TokenLayout({ llmVocabSize: 50, codebookSize: 64, bosId: 49 });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: 8, numVqTokens: 16 });
  // #region codec
  // 64×64 images ↔ 4×4 codes of 6 bits: the sampler decodes previews and results with it.
  const magvit = MagvitTokenizer.create(createMagvitConfig({ ch: 8, chMult: [1, 2, 2, 2, 2], resolution: 64, codebookDim: 6, normGroups: 4 }), { seed: 1 });
  const model = ShowoModel.random(tinyConfig(layout), 0);
  const result = await imageResult(textToImage({ model, prompting, codec: magvitCodec(magvit) }, { prompts: [[5, 6]], steps: 3, seed: 0 }));
  console.log(result!.images![0]!.width); // 64
  model.dispose();
  magvit.dispose();
  // #endregion
  assert.equal(result!.images![0]!.width, 64);
});

test('guide-custom-pipelines: one forward split over two engines', async () => {
  await initBackend('wasm');
  const layout = new TokenLayout({ llmVocabSize: 50, codebookSize: 16, bosId: 49 });
  // #region tensor-parallel
  // One forward on both cores: each engine computes half of the heads and of the MLP of every layer.
  const model = ShowoModel.random(tinyConfig(layout), 5);
  const engine = await createShowoEngine(model, { workers: 2 }); // the main thread + a worker thread (seconds to start)
  const ids = tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32');
  const allow = tf.linalg.bandPart(tf.ones([1, 4, 4]), -1, 0).cast('bool'); // causal
  const floats = ids.size * model.config.hidden_size; // the largest tensor one all-reduce carries
  const split = (await engine.runTensorParallel('forward', { ids, allow }, { config: model.config }, floats)) as tf.Tensor;
  const whole = model.forward(ids, allow);
  console.log(tf.max(tf.abs(tf.sub(split, whole))).dataSync()[0]! < 1e-4); // true
  await engine.dispose();
  // #endregion
  assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(split, whole))).dataSync()[0]!) < 1e-4);
  tf.dispose([ids, allow, split, whole]);
  model.dispose();
});

function tinyConfig(layout: TokenLayout): ShowoConfig {
  return {
    vocab_size: layout.vocabSize,
    llm_vocab_size: layout.llmVocabSize,
    num_new_special_tokens: 10,
    codebook_size: layout.codebookSize,
    num_vq_tokens: 16,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    partial_rotary_factor: 0.5,
    qk_layernorm: true,
    layer_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 128,
  };
}

/** `#region NAME` … `#endregion` bodies of this file, dedented. */
function regions(): Map<string, string> {
  const lines = fs.readFileSync(THIS_FILE, 'utf8').split('\n');
  const out = new Map<string, string>();
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i]!.match(/^\s*\/\/ #region (\S+)/);
    if (!m) continue;
    const body: string[] = [];
    for (i++; !/^\s*\/\/ #endregion/.test(lines[i]!); i++) body.push(lines[i]!);
    const indent = Math.min(...body.filter((l) => l.trim()).map((l) => l.match(/^ */)![0].length));
    out.set(m[1]!, body.map((l) => l.slice(indent)).join('\n').trim());
  }
  return out;
}

test('the guides show exactly the code of these tests, and excerpts of the real sources', () => {
  const code = regions();
  const used = new Set<string>();
  for (const guide of ['guide-plugins.md', 'guide-custom-pipelines.md']) {
    const text = fs.readFileSync(path.join(ROOT, 'docs', guide), 'utf8');
    const blocks = [...text.matchAll(/<!-- (guide-example|excerpt): (\S+) -->\s*\n```ts\n([\s\S]*?)\n```/g)];
    assert.ok(blocks.length > 0, `${guide} has checked code blocks`);
    for (const [, kind, name, body] of blocks) {
      if (kind === 'guide-example') {
        assert.ok(code.has(name!), `${guide}: no #region ${name} in guide-examples.test.ts`);
        assert.equal(body!.trim(), code.get(name!), `${guide}: the block ${name} differs from the tested code`);
        used.add(name!);
      } else {
        const source = fs.readFileSync(path.join(ROOT, name!), 'utf8');
        assert.ok(source.includes(body!.trim()), `${guide}: the excerpt of ${name} is not (or no longer) in that file`);
      }
    }
  }
  assert.deepEqual([...code.keys()].filter((k) => !used.has(k)), [], 'every example is shown in a guide');
});

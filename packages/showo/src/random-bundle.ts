/**
 * A tiny model folder with random weights, in the embedded layout. It generates noise, but every code path runs on
 * it in well under a second — what tests, demos of the plumbing and CI use before (or instead of) a trained model.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '@showo/runtime';
import { buildWordVocabulary, saveWordVocabulary, TokenLayout } from '@showo/prompting';
import { vocabularyWords } from '@showo/shapes-world';
import { ShowoModel, configToJson, type ShowoConfig } from '@showo/showo-core';
import { MagvitTokenizer, createMagvitConfig, saveMagvit, writeMagvitConfig } from '@showo/tokenizer-magvit';

/** Sizes of a random bundle (all optional; the defaults make a model of a few ten thousand parameters). */
export interface RandomBundleOptions {
  seed?: number;
  /** Pixels per image side (default 64, the Shapes World canvas). */
  imageSize?: number;
  /** Pixels per token side, a power of two (default 8: 64×64 images → 8×8 = 64 tokens). */
  patchSize?: number;
  /** Bits per image code: 2^bits codes (default 4). */
  codebookBits?: number;
  /** Text tokens of a prompt (`max_seq_length`, default 40: every Shapes World text fits, how-to question + step 1 included). */
  maxSeqLength?: number;
  hiddenSize?: number;
  layers?: number;
  heads?: number;
  /** Channels of the image tokenizer's first level (default 8). */
  magvitChannels?: number;
  /** Words of the text vocabulary (default: the Shapes World language). */
  words?: Iterable<string>;
  /** The `generation` block written into the config (default: 4 steps, no guidance, cosine). */
  generation?: Record<string, unknown>;
}

/**
 * Writes a random model folder in the embedded layout (`showo/config.json`, `showo/model.safetensors`,
 * `showo/vocab.json`, `magvit/config.json`, `magvit/model.safetensors`) and returns its path. Needs an initialised
 * backend; every tensor it makes is freed before it returns.
 */
export async function writeRandomModelBundle(dir: string, options: RandomBundleOptions = {}): Promise<string> {
  const seed = options.seed ?? 0;
  const imageSize = options.imageSize ?? 64;
  const patch = options.patchSize ?? 8;
  const levels = Math.log2(patch) + 1;
  if (!Number.isInteger(levels) || levels < 1) throw new RangeError(`patchSize must be a power of two, got ${patch}`);
  const bits = options.codebookBits ?? 4;
  const msl = options.maxSeqLength ?? 40;
  const hidden = options.hiddenSize ?? 32;
  const ch = options.magvitChannels ?? 8;
  const showoDir = path.join(dir, 'showo');
  const magvitDir = path.join(dir, 'magvit');
  fs.mkdirSync(showoDir, { recursive: true });
  fs.mkdirSync(magvitDir, { recursive: true });

  const vocabulary = buildWordVocabulary(options.words ?? vocabularyWords());
  saveWordVocabulary(path.join(showoDir, 'vocab.json'), vocabulary);
  const eot = vocabulary.length - 1; // buildWordVocabulary puts <|endoftext|> last
  const n = (imageSize / patch) ** 2;
  const layout = new TokenLayout({ llmVocabSize: vocabulary.length, codebookSize: 2 ** bits, bosId: eot });
  const config: ShowoConfig = {
    vocab_size: layout.vocabSize,
    llm_vocab_size: layout.llmVocabSize,
    num_new_special_tokens: layout.numNewSpecialTokens,
    codebook_size: layout.codebookSize,
    num_vq_tokens: n,
    hidden_size: hidden,
    intermediate_size: 2 * hidden,
    num_hidden_layers: options.layers ?? 1,
    num_attention_heads: options.heads ?? 2,
    partial_rotary_factor: 0.5,
    qk_layernorm: true,
    layer_norm_eps: 1e-5,
    rope_theta: 10000,
    // Room for the longest use: an mmu prompt (N + MSL + 4) plus an answer of MSL tokens, or a 3-step how-to.
    max_position_embeddings: Math.max(n + 2 * msl + 8, 3 * (n + 2) + 3 * (msl + 2)),
    max_seq_length: msl,
  };
  const model = ShowoModel.random(config, seed);
  try {
    await model.save(showoDir);
  } finally {
    model.dispose();
  }
  const json = {
    ...configToJson(config),
    text_tokenizer: { type: 'word', vocab: 'vocab.json' },
    showo: { num_vq_tokens: n, max_seq_length: msl },
    generation: options.generation ?? { steps: 4, guidance_scale: 0, temperature: 1, schedule: 'cosine' },
  };
  writeFileAtomic(path.join(showoDir, 'config.json'), JSON.stringify(json, null, 2) + '\n');

  const magvitConfig = createMagvitConfig({
    ch,
    chMult: new Array<number>(levels).fill(1),
    numResBlocks: 1,
    resolution: imageSize,
    codebookDim: bits,
    normGroups: Math.min(4, ch),
  });
  const magvit = MagvitTokenizer.create(magvitConfig, { seed: seed + 1 });
  try {
    saveMagvit(magvit, path.join(magvitDir, 'model.safetensors'));
  } finally {
    magvit.dispose();
  }
  writeMagvitConfig(path.join(magvitDir, 'config.json'), magvitConfig);
  return dir;
}

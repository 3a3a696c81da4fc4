// Ships the embedded model into models/shapes-world/ (layout read by the CLI's loader):
//   showo/config.json      Show-o config (official field names) + text_tokenizer, showo block, generation defaults
//   showo/model.safetensors, showo/vocab.json
//   magvit/config.json + magvit/model.safetensors
// As a script: copies the best Show-o of a run (<dir>/best) and its frozen tokenizer.
//   node --import tsx scripts/embedded/ship.ts [--dir runs/showo] [--model <dir>/best] [--tokenizer <dir>/magvit.safetensors]
//        [--steps 12 --guidance 2 --temperature 1 --schedule cosine]
//        [--to DIR]   (a candidate folder to evaluate with `showo eval --model DIR`, instead of models/shapes-world)
//   node --import tsx scripts/embedded/ship.ts --decoder FILE.safetensors [--to DIR]
//        ships a tokenizer whose decoder alone was retrained (train-tokenizer.ts --new-decoder / --decoder-only) next
//        to the Show-o already in models/shapes-world (copied when --to names another folder); it refuses a file
//        whose encoder or quantiser differ from the shipped ones by a single bit, since the codes would change.
import fs from 'node:fs';
import path from 'node:path';
import { saveWordVocabulary } from '@showo/prompting';
import { ShowoModel } from '@showo/showo-core';
import { readSafetensors } from '@showo/runtime';
import { CONFIG_METADATA_KEY, parseMagvitConfig, writeMagvitConfig } from '@showo/tokenizer-magvit';
import { ROOT, arg, log } from './common.js';
import type { EmbeddedSetup, GenerationSettings } from './showo-common.js';

/** Where shipping writes; `--to DIR` writes a candidate folder elsewhere (same layout) to evaluate before shipping. */
export const MODELS_DIR = path.resolve(arg('to', path.join(ROOT, 'models', 'shapes-world')));

function replaceDir(target: string, fill: (tmp: string) => Promise<void> | void): Promise<void> {
  const tmp = `${target}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  return Promise.resolve(fill(tmp)).then(() => {
    const old = `${target}.old-${process.pid}`;
    if (fs.existsSync(target)) fs.renameSync(target, old);
    fs.renameSync(tmp, target);
    fs.rmSync(old, { recursive: true, force: true });
  });
}

/** Speck cleanup of shipped palette tokenizers whose file does not set one (see set-tokenizer-cleanup.ts). */
export const SHIPPED_PALETTE_MIN_REGION = 24;

/**
 * Writes the tokenizer folder from a saveMagvit file (config read from its metadata). A palette tokenizer without
 * a speck-cleanup setting gets {@link SHIPPED_PALETTE_MIN_REGION}: training runs freeze their tokenizer before the
 * setting is chosen, and shipping must not silently drop it.
 */
export async function shipMagvit(magvitFile: string): Promise<void> {
  const { metadata } = readSafetensors(magvitFile);
  const config = parseMagvitConfig(JSON.parse(metadata[CONFIG_METADATA_KEY]!));
  if (config.outputMode === 'palette' && config.paletteMinRegion === undefined) config.paletteMinRegion = SHIPPED_PALETTE_MIN_REGION;
  await replaceDir(path.join(MODELS_DIR, 'magvit'), (tmp) => {
    fs.copyFileSync(magvitFile, path.join(tmp, 'model.safetensors'));
    writeMagvitConfig(path.join(tmp, 'config.json'), config);
  });
}

export async function shipShowo(o: { model: ShowoModel; magvitFile: string; setup: EmbeddedSetup; generation: GenerationSettings; quickScores?: Record<string, unknown> }): Promise<void> {
  fs.mkdirSync(MODELS_DIR, { recursive: true });
  await replaceDir(path.join(MODELS_DIR, 'showo'), async (tmp) => {
    await o.model.save(tmp);
    const cfgFile = path.join(tmp, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as Record<string, unknown>;
    const c = o.model.config;
    const full = {
      ...cfg,
      text_tokenizer: { type: 'word', vocab: 'vocab.json' },
      showo: {
        llm_vocab_size: c.llm_vocab_size,
        num_new_special_tokens: c.num_new_special_tokens,
        codebook_size: c.codebook_size,
        num_vq_tokens: c.num_vq_tokens,
        max_seq_length: c.max_seq_length,
        image_size: 64,
      },
      generation: { steps: o.generation.steps, guidance_scale: o.generation.guidanceScale, temperature: o.generation.temperature, schedule: o.generation.schedule ?? 'cosine' },
    };
    fs.writeFileSync(cfgFile, JSON.stringify(full, null, 2) + '\n');
    saveWordVocabulary(path.join(tmp, 'vocab.json'), o.setup.tokenizer.vocabulary);
  });
  await shipMagvit(o.magvitFile);
  if (o.quickScores) fs.writeFileSync(path.join(MODELS_DIR, 'scores.json'), JSON.stringify(o.quickScores, null, 2) + '\n');
}

/** Ships a retrained decoder with the shipped encoder (checked bit for bit) and Show-o. */
async function shipDecoder(file: string): Promise<void> {
  const shipped = path.join(ROOT, 'models', 'shapes-world');
  const old = readSafetensors(path.join(shipped, 'magvit', 'model.safetensors')).tensors;
  const next = readSafetensors(file).tensors;
  const codesSide = (name: string) => !name.startsWith('decoder.');
  for (const [name, t] of old) {
    if (!codesSide(name)) continue;
    const u = next.get(name);
    const same = u && u.shape.join() === t.shape.join() && Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    if (!same) throw new Error(`${file}: ${name} differs from the shipped tokenizer's, so its codes would not be the shipped Show-o's`);
  }
  if (MODELS_DIR !== shipped) {
    fs.mkdirSync(MODELS_DIR, { recursive: true });
    for (const part of ['showo', 'scores.json']) {
      if (fs.existsSync(path.join(shipped, part))) fs.cpSync(path.join(shipped, part), path.join(MODELS_DIR, part), { recursive: true });
    }
  }
  await shipMagvit(file);
  log(`shipped the decoder of ${file} to ${MODELS_DIR}`);
}

async function main(): Promise<void> {
  const decoder = arg('decoder', '');
  if (decoder) return shipDecoder(path.resolve(decoder));
  const dir = path.resolve(arg('dir', 'runs/showo'));
  const { initBackend } = await import('@showo/runtime');
  await initBackend('wasm');
  const { embeddedSetup } = await import('./showo-common.js');
  const src = path.resolve(arg('model', path.join(dir, 'best')));
  const model = await ShowoModel.load(src);
  const gen: GenerationSettings = { steps: Number(arg('steps', '12')), guidanceScale: Number(arg('guidance', '2')), temperature: Number(arg('temperature', '1')), schedule: arg('schedule', 'cosine') };
  // --tokenizer: the tokenizer to ship with the model (a run on patch codes has none of its own).
  const magvitFile = path.resolve(arg('tokenizer', path.join(dir, 'magvit.safetensors')));
  const codebookDim = parseMagvitConfig(JSON.parse(readSafetensors(magvitFile).metadata[CONFIG_METADATA_KEY]!)).codebookDim;
  if (2 ** codebookDim !== model.config.codebook_size) throw new Error(`${magvitFile} has ${2 ** codebookDim} codes, the model ${model.config.codebook_size}`);
  await shipShowo({ model, magvitFile, setup: embeddedSetup(model.config.codebook_size), generation: gen });
  log(`shipped ${src} to ${MODELS_DIR}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

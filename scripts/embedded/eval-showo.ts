// Evaluates an embedded Show-o on the public Shapes World files: text-to-image (MaskGIT with CFG, @showo/sampler)
// scored by the SPEC detector per tag, and understanding (greedy answers) per question kind.
//
//   node --import tsx scripts/embedded/eval-showo.ts [--model models/shapes-world/showo]
//        [--magvit models/shapes-world/magvit/model.safetensors] [--steps 12] [--guidance 2[,3,...]] [--temperature 1]
//        [--schedule cosine] [--stride 1] [--json out.json] [--images out-dir] [--codes PATCH_CODEBOOK.json]
//        [--tags single,colors] [--no-mmu] [--no-t2i] [--beams N] [--length-penalty X]
//   --codes scores a model trained on exact patch codes (train-showo.ts --codes) with the codebook itself as its
//   tokenizer: exact encoding and decoding, so the scores are the model's alone.
//   Several comma-separated --schedule / --guidance / --steps / --temperature values are all tried (t2i only after
//   the first).
//   --tags keeps only the t2i prompts of those tags; --no-mmu skips the questions (sampler sweeps), --no-t2i the
//   prompts. --beams answers by beam search with N beams (default: greedy), --length-penalty its normalisation.
//
// Also draws the learning curve of a run: --curve runs/showo/scores.jsonl --png models/shapes-world/learning-curve.png
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { initBackend } from '@showo/runtime';
import { formatAccuracyTable } from '@showo/shapes-world';
import { ShowoModel } from '@showo/showo-core';
import { loadMagvit } from '@showo/tokenizer-magvit';
import { renderLossCurve } from '@showo/trainer';
import { arg, log } from './common.js';
import { loadPatchCodebook, patchCodebookImages } from './patch-codes.js';
import { embeddedSetup, evaluateShowo, everyKth, loadEvalItems, magvitImages, type GenerationSettings } from './showo-common.js';

/** Learning curve: t2i, mmu and score vs training minutes, from a run's scores.jsonl. */
export function writeLearningCurve(scoresFile: string, png: string): void {
  const rows = fs
    .readFileSync(scoresFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { trainSeconds: number; t2i: number; mmu: number; score: number });
  const pts = (k: 't2i' | 'mmu' | 'score') => rows.map((r) => [r.trainSeconds / 60, r[k]] as const);
  const buf = renderLossCurve(
    [
      { name: 't2i', points: pts('t2i') },
      { name: 'mmu', points: pts('mmu') },
      { name: 'score', points: pts('score') },
    ],
    { logY: false, title: 'accuracy vs training minutes' },
  );
  fs.mkdirSync(path.dirname(png), { recursive: true });
  fs.writeFileSync(png, buf);
}

async function main(): Promise<void> {
  const curve = arg('curve', '');
  if (curve) {
    writeLearningCurve(curve, arg('png', 'models/shapes-world/learning-curve.png'));
    log(`learning curve written`);
    return;
  }
  await initBackend(arg('backend', 'wasm'));
  const modelDir = path.resolve(arg('model', 'models/shapes-world/showo'));
  const stride = Number(arg('stride', '1'));
  const all = loadEvalItems();
  const tags = arg('tags', '') ? new Set(arg('tags', '').split(',')) : undefined;
  const unknown = [...(tags ?? [])].filter((t) => !all.t2i.some((x) => x.tag === t));
  if (unknown.length > 0) throw new Error(`--tags: no t2i prompt has the tag ${unknown.join(', ')} (tags: ${[...new Set(all.t2i.map((x) => x.tag))].join(', ')})`);
  const items = {
    t2i: process.argv.includes('--no-t2i') ? [] : everyKth(tags ? all.t2i.filter((x) => tags.has(x.tag)) : all.t2i, stride),
    mmu: process.argv.includes('--no-mmu') ? [] : everyKth(all.mmu, stride),
  };
  const images = arg('codes', '') ? patchCodebookImages(loadPatchCodebook(path.resolve(arg('codes', '')))) : magvitImages(loadMagvit(path.resolve(arg('magvit', 'models/shapes-world/magvit/model.safetensors'))));
  const model = await ShowoModel.load(modelDir);
  const setup = embeddedSetup(model.config.codebook_size);
  const list = (k: string, d: string) => arg(k, d).split(',').map(Number);
  const results: unknown[] = [];
  let first = true;
  const settings: GenerationSettings[] = arg('schedule', 'cosine')
    .split(',')
    .flatMap((schedule) =>
      list('steps', '12').flatMap((steps) =>
        list('guidance', '2').flatMap((guidanceScale) => list('temperature', '1').map((temperature) => ({ steps, guidanceScale, temperature, schedule }))),
      ),
    );
  for (const gen of settings) {
    const keep = new Map<string, Uint8Array>();
    const s = await evaluateShowo(model, images, setup, { t2i: items.t2i, mmu: first ? items.mmu : [] }, gen, {
      seed: Number(arg('seed', '1')),
      keepImages: keep,
      ...(arg('beams', '') ? { numBeams: Number(arg('beams', '')) } : {}),
      ...(arg('length-penalty', '') ? { lengthPenalty: Number(arg('length-penalty', '')) } : {}),
    });
    const withMmu = first && items.mmu.length > 0;
    log(`${modelDir} ${JSON.stringify(gen)}: t2i ${s.t2i.toFixed(3)}${withMmu ? ` mmu ${s.mmu.toFixed(3)}` : ''} [${s.evalSeconds.toFixed(0)} s]`);
    if (s.t2iReport) console.log(formatAccuracyTable('t2i tag', s.t2iReport.byTag, s.t2iReport.overall));
    if (first && s.mmuReport) console.log(formatAccuracyTable('mmu question', s.mmuReport.byKind, s.mmuReport.overall));
    results.push({ gen, t2i: s.t2i, mmu: withMmu ? s.mmu : undefined, t2iByTag: s.t2iByTag, mmuByKind: first ? s.mmuByKind : undefined, answers: first ? Object.fromEntries(s.answers) : undefined });
    const imgDir = arg('images', '');
    if (imgDir) {
      fs.mkdirSync(imgDir, { recursive: true });
      for (const [id, rgb] of keep) {
        const png = new PNG({ width: 64, height: 64 });
        for (let i = 0; i < 64 * 64; i++) {
          png.data[i * 4] = rgb[i * 3];
          png.data[i * 4 + 1] = rgb[i * 3 + 1];
          png.data[i * 4 + 2] = rgb[i * 3 + 2];
          png.data[i * 4 + 3] = 255;
        }
        fs.writeFileSync(path.join(imgDir, `${id}-${gen.schedule}-s${gen.steps}-g${gen.guidanceScale}-t${gen.temperature}.png`), PNG.sync.write(png));
      }
    }
    first = false;
  }
  const out = arg('json', '');
  if (out) fs.writeFileSync(out, JSON.stringify(results, null, 2));
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

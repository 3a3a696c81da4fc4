// Trains the embedded Show-o on Shapes World through the trainer's generic loop (`train` of @showo/trainer with the
// `ShowoTask`, the Shapes World stream and AdamW), stage after stage (configs in scripts/embedded/stages/, the
// trainer's StageConfig format). Image codes come from the trained tokenizer (frozen: copied once to
// <dir>/magvit.safetensors). Periodic evaluation on the public t2i/mmu files keeps the best model (<dir>/best/) and
// ships it to models/shapes-world/ (unless --no-ship). Re-running the same command resumes: a stage continues from
// its newest checkpoint; a finished stage (model/ written) is skipped.
//
//   node --import tsx scripts/embedded/train-showo.ts [--dir runs/showo] [--tokenizer runs/tokenizer/best.safetensors]
//        [--stages 1,2,3] [--eval-every 100] [--eval-stride 3] [--hidden 128] [--layers 4] [--heads 4] [--seed 5]
//        [--init MODEL_DIR] [--workers 1|2] [--accum N] [--ema DECAY] [--codes PATCH_CODEBOOK.json --no-ship]
//        [--backend wasm|webgpu|…] [--primitives auto|fast|reference] [--total-steps N]
//
// --codes codes images with an exact patch codebook (make-patch-codebook.ts) instead of a tokenizer, and evaluates
// with it (decoding is then exact); the vocabulary has its codebook's size. A tokenizer trained to the same codes
// (train-tokenizer.ts --code-targets) is what such a model ships with.
//
// --init starts from a saved Show-o folder (e.g. the shipped models/shapes-world/showo) instead of random weights,
// for stages without checkpoints of their own and without `initFrom` (stage 4 continues the shipped model this way).
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setPrimitiveImplementation, type PrimitiveImplementation } from '@showo/runtime';
import { ShowoModel } from '@showo/showo-core';
import { loadMagvit } from '@showo/tokenizer-magvit';
import {
  AdamW,
  CodeCache,
  stageData,
  ShowoTask,
  findLatestCheckpoint,
  loadCheckpointWeights,
  loadStageConfig,
  modelFingerprint,
  train,
  WeightAverage,
  type StageConfig,
} from '@showo/trainer';
import { ROOT, appendJsonl, arg, flag, log } from './common.js';
import { loadPatchCodebook, patchCodebookImages } from './patch-codes.js';
import { embeddedSetup, embeddedShowoConfig, evaluateShowo, everyKth, loadEvalItems, magvitImages, type GenerationSettings } from './showo-common.js';
import { shipShowo } from './ship.js';

const DIR = path.resolve(arg('dir', 'runs/showo'));
const STAGES = arg('stages', '1,2,3').split(',').map(Number);
const EVAL_EVERY = Number(arg('eval-every', '100'));
const EVAL_STRIDE = Number(arg('eval-stride', '3'));
const DIMS = { hidden: Number(arg('hidden', '128')), layers: Number(arg('layers', '4')), heads: Number(arg('heads', '4')) };
const SEED = Number(arg('seed', '5'));
const GEN: GenerationSettings = { steps: Number(arg('gen-steps', '12')), guidanceScale: Number(arg('guidance', '2')), temperature: Number(arg('temperature', '1')) };
const SHIP = !flag('no-ship');
/** Smoke runs: stop each stage after this many steps (0: the stage's totalSteps). */
const SMOKE = Number(arg('smoke', '0'));
/** Engines: 2 runs the micro-batches of a step pairwise on both cores (a DualEngine worker); needs --accum ≥ 2. */
const WORKERS = Number(arg('workers', '1')) as 1 | 2;
/** Override of the stages' gradAccumSteps (0: as configured). */
const ACCUM = Number(arg('accum', '0'));
/** Overrides the stages' totalSteps and their schedule's length (0: as configured): a GPU run sized to its time. */
const TOTAL_STEPS = Number(arg('total-steps', '0'));
/**
 * Primitive implementation: `auto` (the runtime's choice by backend: batched on webgpu), `fast` (per-head 2-D
 * matMuls, tuned for wasm) or `reference` (batched tfjs ops). Same values either way.
 */
const PRIMITIVES = arg('primitives', 'auto') as PrimitiveImplementation;
/** Decay of a weight average (EMA) kept by the run; evaluation, best/ and shipping use the average. 0: none. */
const EMA = Number(arg('ema', '0'));

interface Clock {
  trainSeconds: number;
  globalStep: number;
}

async function main(): Promise<void> {
  await initBackend(arg('backend', 'wasm'), { log });
  if (!['auto', 'fast', 'reference'].includes(PRIMITIVES)) throw new Error(`--primitives ${PRIMITIVES}: choose auto, fast or reference`);
  setPrimitiveImplementation(PRIMITIVES);
  fs.mkdirSync(DIR, { recursive: true });
  const magvitFile = path.join(DIR, 'magvit.safetensors');
  // --codes: images are coded by an exact patch codebook (copied to <dir>/patch-codebook.json) instead of a tokenizer.
  const codebookFile = path.join(DIR, 'patch-codebook.json');
  if (arg('codes', '') && !fs.existsSync(codebookFile)) fs.copyFileSync(path.resolve(arg('codes', '')), codebookFile);
  const codebook = fs.existsSync(codebookFile) ? loadPatchCodebook(codebookFile) : undefined;
  if (!codebook && !fs.existsSync(magvitFile)) {
    const src = path.resolve(arg('tokenizer', 'runs/tokenizer/best.safetensors'));
    fs.copyFileSync(src, magvitFile);
    log(`froze tokenizer ${src} → ${magvitFile}`);
  }
  if (codebook && SHIP) throw new Error('a run on patch codes has no tokenizer to ship with: add --no-ship');
  const images = codebook ? patchCodebookImages(codebook) : magvitImages(loadMagvit(magvitFile));
  const setup = embeddedSetup(images.encoder.codebookSize);
  const config = embeddedShowoConfig(setup.layout, DIMS);
  const model = ShowoModel.random(config, SEED);
  const INIT = arg('init', '');
  // Image row / column embeddings (zero at first): asked for with --image-positions, or kept from an --init that has them.
  if (flag('image-positions')) model.addImagePositionEmbedding();
  if (INIT) {
    const init = await ShowoModel.load(path.resolve(INIT));
    if (init.config.image_position_embedding) model.addImagePositionEmbedding();
    try {
      for (const [name, v] of model.namedVariables()) v.assign(init.namedVariables().get(name)!);
    } finally {
      init.dispose();
    }
    log(`initial weights from ${INIT}`);
  }
  let params = 0;
  for (const v of model.namedVariables().values()) params += v.size;
  log(`Show-o: ${params} parameters, ${JSON.stringify(DIMS)}, vocab ${config.vocab_size}; generation ${JSON.stringify(GEN)}`);
  const cache = new CodeCache(images.encoder, 64, 200_000);
  const items = loadEvalItems();
  const quick = { t2i: everyKth(items.t2i, EVAL_STRIDE), mmu: everyKth(items.mmu, EVAL_STRIDE) };
  const clockFile = path.join(DIR, 'clock.json');
  const clock: Clock = fs.existsSync(clockFile) ? JSON.parse(fs.readFileSync(clockFile, 'utf8')) : { trainSeconds: 0, globalStep: 0 };
  const bestFile = path.join(DIR, 'best.json');
  let best = fs.existsSync(bestFile) ? (JSON.parse(fs.readFileSync(bestFile, 'utf8')) as { score: number }).score : -1;
  const ac = new AbortController();
  process.on('SIGTERM', () => ac.abort());
  process.on('SIGINT', () => ac.abort());

  for (const n of STAGES) {
    if (ac.signal.aborted) break;
    const configured: StageConfig = loadStageConfig(path.join(ROOT, 'scripts/embedded/stages', `stage${n}.json`));
    const sized = (sch: StageConfig['schedule']): StageConfig['schedule'] => (sch.kind === 'constant' ? sch : { ...sch, totalSteps: TOTAL_STEPS });
    const c: StageConfig = TOTAL_STEPS > 0 ? { ...configured, totalSteps: TOTAL_STEPS, schedule: sized(configured.schedule) } : configured;
    const out = path.join(DIR, c.output);
    if (fs.existsSync(path.join(out, 'done.json'))) {
      log(`stage ${n} (${c.name}) already finished; loading its weights`);
      loadCheckpointWeights(findLatestCheckpoint(path.join(out, 'checkpoints'))!, model.namedVariables());
      continue;
    }
    const ckptDir = path.join(out, 'checkpoints');
    const vars = model.namedVariables();
    const resume = findLatestCheckpoint(ckptDir) !== undefined;
    if (!resume && c.initFrom) {
      const prev = findLatestCheckpoint(path.join(DIR, c.initFrom, 'checkpoints'));
      if (!prev) throw new Error(`stage ${n} starts from ${c.initFrom}: run it first`);
      loadCheckpointWeights(prev, vars);
      log(`stage ${n}: starting from ${prev}`);
    }
    const data = stageData(c, setup.prompting, cache);
    const average = EMA > 0 ? new WeightAverage(Object.fromEntries(vars), { decay: EMA }) : undefined;
    // Evaluation, best/ and shipping see the averaged weights when the run keeps an average.
    const withEvalWeights = <T>(fn: () => Promise<T>): Promise<T> => (average ? average.withAveragedWeights(fn) : fn());
    let lastT = Date.now();
    let stepBase = clock.globalStep;
    let lastLog = 0;
    const events = train({
      model: new ShowoTask(model, { maxSeqLength: setup.prompting.maxSeqLength, coefficients: c.loss }),
      data,
      optimizer: new AdamW(c.optimizer),
      disposeOptimizer: true,
      schedule: c.schedule,
      ...(average ? { average } : {}),
      totalSteps: SMOKE > 0 ? SMOKE : c.totalSteps,
      gradAccumSteps: ACCUM > 0 ? ACCUM : c.gradAccumSteps,
      workers: WORKERS,
      ...(c.clipGradNorm !== null ? { clipGradNorm: c.clipGradNorm } : {}),
      checkpoint: { dir: ckptDir, everySteps: c.checkpoint.everySteps, keepLast: c.checkpoint.keepLast, resume, fingerprint: `${c.name}:${modelFingerprint(vars)}` },
      metricsLog: path.join(out, 'metrics.jsonl'),
      lossCurve: path.join(out, 'loss.png'),
      meta: { config: c as never, dims: DIMS as never },
      signal: ac.signal,
      evaluate: {
        everySteps: EVAL_EVERY,
        run: async (step) => withEvalWeights(async () => {
          const s = await evaluateShowo(model, images, setup, quick, GEN, { seed: 1 });
          const row = { stage: n, step, globalStep: clock.globalStep, trainSeconds: Math.round(clock.trainSeconds), t2i: s.t2i, mmu: s.mmu, score: s.score, t2iByTag: s.t2iByTag, mmuByKind: s.mmuByKind, nT2i: s.nT2i, nMmu: s.nMmu, evalSeconds: s.evalSeconds, time: new Date().toISOString() };
          appendJsonl(path.join(DIR, 'scores.jsonl'), row);
          const improved = s.score > best;
          log(`eval stage ${n} step ${step}: t2i ${s.t2i.toFixed(3)} mmu ${s.mmu.toFixed(3)} score ${s.score.toFixed(3)}${improved ? ' (best)' : ''} [${s.evalSeconds.toFixed(0)} s] ${JSON.stringify(s.t2iByTag)} ${JSON.stringify(s.mmuByKind)}`);
          if (improved) {
            best = s.score;
            await model.save(path.join(DIR, 'best'));
            fs.writeFileSync(bestFile, JSON.stringify({ ...row }, null, 2));
            if (SHIP) {
              await shipShowo({ model, magvitFile, setup, generation: GEN, quickScores: row });
              log('shipped to models/shapes-world/');
            }
          }
          lastT = Date.now(); // evaluation time is not training time
          return { t2i: s.t2i, mmu: s.mmu, score: s.score };
        }),
      },
    });
    await new Promise<void>((resolve, reject) =>
      events.subscribe({
        next: (e) => {
          if (e.type === 'start') {
            stepBase = clock.globalStep - e.step;
            log(`stage ${n} (${c.name}) start at step ${e.step}/${e.totalSteps}${e.resumedFrom ? ` (resumed from ${e.resumedFrom})` : ''}`);
          } else if (e.type === 'step') {
            const now = Date.now();
            clock.trainSeconds += (now - lastT) / 1000;
            lastT = now;
            clock.globalStep = stepBase + e.step;
            if (e.step - lastLog >= 10 || e.step <= 2) {
              lastLog = e.step;
              fs.writeFileSync(clockFile, JSON.stringify(clock));
              const p = Object.entries(e.parts).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(' ');
              log(`s${n} step ${e.step} loss ${e.loss.toFixed(4)} ${p} lr ${e.lr.toExponential(2)} gn ${e.gradNorm.toFixed(2)} ${e.stepMs.toFixed(0)} ms ${e.tokensPerSecond.toFixed(0)} tok/s; cache ${cache.size} (hit ${cache.hits}/${cache.hits + cache.misses}); train ${(clock.trainSeconds / 60).toFixed(1)} min; mem ${(tf.memory().numBytes / 2 ** 20).toFixed(0)} MB`);
            }
          } else if (e.type === 'checkpoint') {
            fs.writeFileSync(clockFile, JSON.stringify(clock));
            log(`checkpoint ${e.path}`);
          } else if (e.type === 'done') {
            fs.writeFileSync(clockFile, JSON.stringify(clock));
            log(`stage ${n} done: ${e.reason} at step ${e.step}${average ? `; weight average of ${average.updates} updates (decay ${EMA})` : ''}`);
            if (e.reason === 'completed' && SMOKE === 0) fs.writeFileSync(path.join(out, 'done.json'), JSON.stringify({ step: e.step, time: new Date().toISOString() }));
          }
        },
        error: reject,
        complete: resolve,
      }),
    ).finally(() => average?.dispose());
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { concatMap, defer, finalize, type Observable } from 'rxjs';
import type { UniversalPrompting } from '@showo/prompting';
import type { ShowoModel } from '@showo/showo-core';
import { assignWeights, checkVariablesMatch, findLatestCheckpoint, readCheckpoint } from '../checkpoint.js';
import { CodeCache, type ImageEncoder } from '../data/encoder.js';
import { ShapesWorldShowoData, type ShapesWorldDataOptions } from '../data/shapes.js';
import { CheckpointError, TrainerConfigError } from '../errors.js';
import { OFFICIAL_LOSS_COEFFICIENTS, type ShowoLossCoefficients } from '../losses.js';
import { AdamW, type AdamWConfig } from '../optim/adamw.js';
import { WeightAverage, type WeightAverageOptions } from '../optim/average.js';
import { validateSchedule, type LrSchedule } from '../optim/schedule.js';
import { train } from '../train.js';
import type { JsonValue, TrainEvent } from '../types.js';
import { ShowoTask } from './task.js';

/**
 * One training stage of the embedded Show-o, as a JSON file (see `packages/trainer/configs/`). Stages follow the
 * official curriculum on Shapes World: 1 — class-conditional images + captioning + language; 2 — caption-to-image
 * (+ captioning and language to keep them); 3 — questions and how-to sequences. Each stage after the first starts
 * from the previous stage's last checkpoint (`initFrom`, weights only, fresh optimiser).
 */
export interface StageConfig {
  name: string;
  stage: number;
  description?: string;
  seed: number;
  /** Folder of this stage's outputs (checkpoints/, metrics.jsonl, loss.png, model/), relative to the runs root. */
  output: string;
  /** Output folder of the stage to start from (relative to the runs root); null for the first stage. */
  initFrom: string | null;
  data: {
    batch: { t2i?: number; lm?: number; mmu?: number };
    t2iMix?: ShapesWorldDataOptions['t2iMix'];
    mmuMix?: ShapesWorldDataOptions['mmuMix'];
    /** Question–answer pairs per `qa` row (see `ShapesWorldDataOptions.qaPerRow`). */
    qaPerRow?: number;
    /** `text: true` adds next-token prediction on the step texts (see `ShapesWorldDataOptions.howto`). */
    howto?: { batch: number; every: number; text?: boolean } | null;
    condDropoutProb?: number;
    /** `objectRegionProb` (not official): see `ImageMaskingOptions.objectRegionProb`. */
    masking?: { minMaskingRate?: number; contiguousRegionProb?: number | null; objectRegionProb?: number };
    generator?: ShapesWorldDataOptions['generator'];
  };
  loss: ShowoLossCoefficients;
  optimizer: Omit<AdamWConfig, 'noDecay'>;
  schedule: LrSchedule;
  totalSteps: number;
  gradAccumSteps: number;
  clipGradNorm: number | null;
  checkpoint: { everySteps: number; keepLast?: number };
  /**
   * Keep a weight average (EMA, see `WeightAverage`) through the stage: it is checkpointed, the exported `model/` is
   * the average, and a later stage starting from this one (`initFrom`) starts from the average. Absent or null: none.
   */
  average?: WeightAverageOptions | null;
}

/** Folder of the JSON stage configs shipped with this package. */
export const STAGE_CONFIG_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'configs');

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates a parsed stage config; every problem is listed in one {@link TrainerConfigError}. */
export function parseStageConfig(json: unknown, source = 'stage config'): StageConfig {
  const problems: string[] = [];
  const need = (ok: boolean, msg: string) => {
    if (!ok) problems.push(msg);
  };
  if (!isObj(json)) throw new TrainerConfigError(`${source}: expected a JSON object`);
  const c = json as unknown as StageConfig;
  const posInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  const nonNegInt = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  need(typeof c.name === 'string' && c.name.length > 0, 'name must be a non-empty string');
  need(posInt(c.stage), 'stage must be a positive integer');
  need(Number.isInteger(c.seed), 'seed must be an integer');
  need(typeof c.output === 'string' && c.output.length > 0, 'output must be a folder name');
  need(c.initFrom === null || (typeof c.initFrom === 'string' && c.initFrom.length > 0), 'initFrom must be a folder name or null');
  need(posInt(c.totalSteps), 'totalSteps must be a positive integer');
  need(posInt(c.gradAccumSteps), 'gradAccumSteps must be a positive integer');
  need(c.clipGradNorm === null || (typeof c.clipGradNorm === 'number' && c.clipGradNorm > 0), 'clipGradNorm must be a positive number or null');
  if (!isObj(c.data) || !isObj(c.data.batch)) problems.push('data.batch must be an object');
  else {
    const b = c.data.batch;
    for (const k of ['t2i', 'lm', 'mmu'] as const) need(b[k] === undefined || nonNegInt(b[k]), `data.batch.${k} must be an integer ≥ 0`);
    need((b.t2i ?? 0) + (b.lm ?? 0) + (b.mmu ?? 0) > 0 || !!c.data.howto, 'data.batch needs at least one row');
    const h = c.data.howto;
    need(h === undefined || h === null || (isObj(h) && posInt(h.batch) && posInt(h.every)), 'data.howto must be null or { batch, every } with positive integers');
    need(c.data.qaPerRow === undefined || posInt(c.data.qaPerRow), 'data.qaPerRow must be a positive integer');
    const p = c.data.condDropoutProb;
    need(p === undefined || (typeof p === 'number' && p >= 0 && p <= 1), 'data.condDropoutProb must lie in [0, 1]');
    const m = c.data.masking;
    const inUnit = (v: unknown) => typeof v === 'number' && v >= 0 && v <= 1;
    need(m === undefined || (isObj(m) && (m.objectRegionProb === undefined || inUnit(m.objectRegionProb))), 'data.masking.objectRegionProb must lie in [0, 1]');
    if ((c.data.generator as { allowHeldOut?: unknown } | undefined)?.allowHeldOut) problems.push('data.generator.allowHeldOut is not allowed in training');
  }
  if (!isObj(c.loss)) problems.push('loss must be { t2i, lm, mmu }');
  else for (const k of ['t2i', 'lm', 'mmu'] as const) need(typeof c.loss[k] === 'number' && c.loss[k] >= 0, `loss.${k} must be a number ≥ 0`);
  need(isObj(c.optimizer), 'optimizer must be an object');
  try {
    validateSchedule(c.schedule);
  } catch (e) {
    problems.push((e as Error).message);
  }
  need(isObj(c.checkpoint) && posInt(c.checkpoint.everySteps), 'checkpoint.everySteps must be a positive integer');
  const a = c.average;
  need(
    a === undefined || a === null || (isObj(a) && typeof a.decay === 'number' && a.decay >= 0 && a.decay < 1 && (a.warmup === undefined || typeof a.warmup === 'boolean')),
    'average must be null or { decay in [0, 1), warmup?: boolean }',
  );
  if (problems.length) throw new TrainerConfigError(`${source}: ${problems.join('; ')}`);
  return { ...c, loss: { ...OFFICIAL_LOSS_COEFFICIENTS, ...c.loss } };
}

/** Reads and validates a stage config file. */
export function loadStageConfig(file: string): StageConfig {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TrainerConfigError(`${file}: ${(e as Error).message}`, { cause: e });
  }
  return parseStageConfig(json, file);
}

/** The shipped config of stage 1, 2 or 3. */
export function builtinStageConfig(stage: 1 | 2 | 3): StageConfig {
  return loadStageConfig(path.join(STAGE_CONFIG_DIR, `stage${stage}.json`));
}

/** A short identity of a model's parameter set (names and shapes): checkpoints of another model are refused. */
export function modelFingerprint(variables: ReadonlyMap<string, { shape: readonly number[] }>): string {
  const h = crypto.createHash('sha256');
  for (const [k, v] of variables) h.update(`${k}:${v.shape.join('x')};`);
  return h.digest('hex').slice(0, 16);
}

/** Emitted by {@link runStage} after a completed stage wrote its final model. */
export interface ExportEvent {
  type: 'export';
  step: number;
  /**
   * Folder with `config.json` + `model.safetensors` (official names), loadable by `ShowoModel.load`: the weight
   * average when the stage keeps one, else the last weights.
   */
  path: string;
}

/** The Shapes World batch stream a stage config describes (mixes, how-to, generator, dropout, masking). */
export function stageData(c: StageConfig, prompting: UniversalPrompting, encoder: ImageEncoder | CodeCache): ShapesWorldShowoData {
  return new ShapesWorldShowoData({
    prompting,
    encoder,
    seed: c.seed,
    batch: c.data.batch,
    ...(c.data.t2iMix ? { t2iMix: c.data.t2iMix } : {}),
    ...(c.data.mmuMix ? { mmuMix: c.data.mmuMix } : {}),
    ...(c.data.qaPerRow ? { qaPerRow: c.data.qaPerRow } : {}),
    ...(c.data.howto ? { howto: c.data.howto } : {}),
    ...(c.data.generator ? { generator: c.data.generator } : {}),
    corruption: {
      ...(c.data.condDropoutProb !== undefined ? { condDropoutProb: c.data.condDropoutProb } : {}),
      ...(c.data.masking ? { masking: c.data.masking } : {}),
    },
  });
}

/** What {@link runStage} needs besides the config. */
export interface RunStageOptions {
  config: StageConfig;
  /** The model to train (for stage 1 usually `ShowoModel.random`); its weights are replaced on resume/initFrom. */
  model: ShowoModel;
  /** Prompt builders with the word tokenizer. */
  prompting: UniversalPrompting;
  /** The image tokenizer (or a shared code cache around it). */
  encoder: ImageEncoder | CodeCache;
  /** Root folder of all stages' outputs. */
  runsDir: string;
  /** Continue this stage from its newest checkpoint when there is one (default true). */
  resume?: boolean;
  /** Override of `config.totalSteps` (e.g. a short smoke run). */
  totalSteps?: number;
  /** Engines for the gradients (see `TrainOptions.workers`: 2 runs micro-batches pairwise on both cores). */
  workers?: 1 | 2 | 'auto';
  signal?: AbortSignal;
}

/**
 * Runs one stage: resume from the stage's own checkpoints if any (exact continuation), else start from the
 * previous stage's last checkpoint (`initFrom`), else from the given weights. Metrics go to
 * `<output>/metrics.jsonl` and `<output>/loss.png`, checkpoints to `<output>/checkpoints/`; a completed stage
 * also writes `<output>/model/` and emits an {@link ExportEvent}. Cold: nothing happens before subscription.
 */
export function runStage(o: RunStageOptions): Observable<TrainEvent | ExportEvent> {
  return defer(() => {
    const c = o.config;
    const out = path.resolve(o.runsDir, c.output);
    const ckptDir = path.join(out, 'checkpoints');
    const vars = o.model.namedVariables();
    const fingerprint = `${c.name}:${modelFingerprint(vars)}`;
    const resume = (o.resume ?? true) && findLatestCheckpoint(ckptDir) !== undefined;
    if (!resume && c.initFrom) {
      const prevDir = path.resolve(o.runsDir, c.initFrom, 'checkpoints');
      const prev = findLatestCheckpoint(prevDir);
      if (!prev) throw new CheckpointError('MISSING', prevDir, `stage ${c.stage} (${c.name}) starts from the result of "${c.initFrom}": run that stage first`);
      const ckpt = readCheckpoint(prev);
      checkVariablesMatch(ckpt, vars);
      // A stage that kept an average exported it as its result: start from the same weights.
      assignWeights(ckpt, vars, { averaged: ckpt.averageTensors.size > 0 });
    }
    const data = stageData(c, o.prompting, o.encoder);
    const optimizer = new AdamW(c.optimizer);
    const totalSteps = o.totalSteps ?? c.totalSteps;
    const task = new ShowoTask(o.model, { maxSeqLength: o.prompting.maxSeqLength, coefficients: c.loss });
    const average = c.average ? new WeightAverage(task.trainableVariables(), c.average) : undefined;
    return train({
      model: task,
      data,
      optimizer,
      disposeOptimizer: true,
      schedule: c.schedule,
      ...(average ? { average } : {}),
      totalSteps,
      gradAccumSteps: c.gradAccumSteps,
      ...(c.clipGradNorm !== null ? { clipGradNorm: c.clipGradNorm } : {}),
      checkpoint: { dir: ckptDir, everySteps: c.checkpoint.everySteps, keepLast: c.checkpoint.keepLast, resume, fingerprint },
      metricsLog: path.join(out, 'metrics.jsonl'),
      lossCurve: path.join(out, 'loss.png'),
      meta: { config: c as unknown as JsonValue },
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    }).pipe(
      concatMap(async (e): Promise<Array<TrainEvent | ExportEvent>> => {
        if (e.type !== 'done' || e.reason !== 'completed') return [e];
        const dir = path.join(out, 'model');
        if (average) await average.withAveragedWeights(() => o.model.save(dir));
        else await o.model.save(dir);
        return [{ type: 'export', step: e.step, path: dir }, e];
      }),
      concatMap((events) => events),
      finalize(() => average?.dispose()),
    );
  });
}

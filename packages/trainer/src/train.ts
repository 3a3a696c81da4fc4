import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { Observable } from 'rxjs';
import { DualEngine, InvalidArgumentError, resolveWorkerCount } from '@showo/runtime';
import {
  assignWeights,
  checkVariablesMatch,
  findLatestCheckpoint,
  namedVariables,
  readCheckpoint,
  removeStaleTemporaries,
  saveCheckpoint,
  type LoadedCheckpoint,
} from './checkpoint.js';
import { CheckpointError, DataExhaustedError } from './errors.js';
import { JsonlWriter, truncateMetricsLog } from './metrics.js';
import { AdamW } from './optim/adamw.js';
import type { WeightAverage } from './optim/average.js';
import { clipByGroupNorms } from './optim/clip.js';
import { learningRate, validateSchedule, type LrSchedule } from './optim/schedule.js';
import { writeLossCurve } from './plot.js';
import { isEngineTrainable, type DataInput, type EngineCall, type JsonValue, type Stateful, type StepEvent, type TrainableModel, type TrainEvent } from './types.js';

/** Periodic, atomic, resumable checkpoints. */
export interface CheckpointOptions {
  /** Folder of the run's checkpoints (`step-NNNNNNNN/` folders and `latest.json`). */
  dir: string;
  /** Save every this many optimiser steps (0 or absent: only at the end and on abort). */
  everySteps?: number;
  /** Keep only the newest `keepLast` checkpoints. */
  keepLast?: number;
  /**
   * `true`: continue from the newest checkpoint in `dir` when there is one (start fresh otherwise); a path: resume
   * from that checkpoint folder (it must exist). Default false.
   */
  resume?: boolean | string;
  /** Identity of the model/run; a checkpoint with another fingerprint is refused. */
  fingerprint?: string;
  /** Save when aborted (default true), so an interrupted run loses no finished step. */
  onAbort?: boolean;
  /** Save after the last step (default true). */
  atEnd?: boolean;
}

/** Options of {@link train}. */
export interface TrainOptions<B> {
  model: TrainableModel<B>;
  /** Batches; when it also implements `getState`/`setState` its position is checkpointed (else batches are skipped on resume). */
  data: DataInput<B>;
  /** Default: `new AdamW()` owned (and disposed) by the run. */
  optimizer?: AdamW;
  /** Dispose `optimizer` when the run ends, however it ends (default: only an optimiser the run created). */
  disposeOptimizer?: boolean;
  /**
   * A weight average (EMA) of the model's variables, updated after every applied step and kept in every checkpoint.
   * On resume it continues from the checkpoint's average; a checkpoint saved without one restarts it at the
   * restored weights. It belongs to the caller (not disposed by the run); evaluate with its `withAveragedWeights`.
   */
  average?: WeightAverage;
  /** A schedule or a function of the 0-based step. */
  schedule: LrSchedule | ((step: number) => number);
  /** Optimiser steps to reach (counting steps done before a resume). */
  totalSteps: number;
  /** Micro-batches per optimiser step (gradients are averaged). Default 1. */
  gradAccumSteps?: number;
  /** Clip the global gradient norm to this value (default: no clipping; the norm is still reported). */
  clipGradNorm?: number;
  /**
   * Parameter-name prefixes whose gradients are clipped as groups of their own (each to `clipGradNorm`), apart from
   * the rest — e.g. `['discriminator.']` when a GAN's discriminator trains in the same step as its generator, so a
   * large discriminator gradient cannot shrink the generator's step. The reported norm stays the global one.
   */
  clipGroups?: readonly string[];
  /** Skip the update when the loss or gradient norm is NaN/∞ (default true; the event reports `skipped`). */
  skipNonFinite?: boolean;
  /** Named states saved in every checkpoint and restored on resume (random generators, task state, …). */
  state?: Record<string, Stateful>;
  checkpoint?: CheckpointOptions;
  /** Stops the run after the current step (a checkpoint is saved when checkpointing is on). */
  signal?: AbortSignal;
  /** Frees a batch after use (e.g. when batches hold tensors). */
  disposeBatch?: (batch: B) => void;
  /** JSON Lines file receiving every event (truncated to the resume step on resume). */
  metricsLog?: string;
  /** PNG of the loss curve, written when the run ends (completed or aborted). */
  lossCurve?: string;
  /** Periodic evaluation; its numbers are emitted as `eval` events and logged. */
  evaluate?: { everySteps: number; run: (step: number) => Promise<Record<string, number>> | Record<string, number> };
  /** Stored in every checkpoint's `meta` (e.g. the stage config). */
  meta?: Record<string, JsonValue>;
  /**
   * Engines computing gradients: 1 (this thread) or 2 (this thread + a `DualEngine` worker: the second core on
   * wasm). With 2, the micro-batches of a step run two at a time, one per engine, and are accumulated exactly as
   * one after the other would be — so use `gradAccumSteps` ≥ 2 (an odd last micro-batch runs on this thread).
   * Needs a model that is {@link EngineTrainable} (`ShowoTask` is). `'auto'`: 2 when the model supports it and the
   * machine has two cores. Default: `SHOWO_WORKERS` when set, else 1.
   */
  workers?: 1 | 2 | 'auto';
  /** Clock in ms (tests). */
  now?: () => number;
}

type AnyIterator<B> = Iterator<B> | AsyncIterator<B>;

function toIterator<B>(data: DataInput<B>): AnyIterator<B> {
  const d = data as Partial<AsyncIterable<B> & Iterable<B>>;
  if (typeof d[Symbol.asyncIterator] === 'function') return d[Symbol.asyncIterator]!();
  if (typeof d[Symbol.iterator] === 'function') return d[Symbol.iterator]!();
  if (typeof (data as AnyIterator<B>).next === 'function') return data as AnyIterator<B>;
  throw new InvalidArgumentError('data must be an iterable, async iterable or iterator of batches');
}

function isStateful(x: unknown): x is Stateful {
  return !!x && typeof (x as Stateful).getState === 'function' && typeof (x as Stateful).setState === 'function';
}

/** Snapshots component states as JSON (a deep copy: later draws must not change a saved snapshot). */
function snapshot(components: ReadonlyMap<string, Stateful>): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [k, s] of components) out[k] = JSON.parse(JSON.stringify(s.getState())) as JsonValue;
  return out;
}

const DATA_KEY = 'data';
const BATCHES_KEY = '__batches_consumed';

/**
 * Trains `model` on `data`: the generic loop every model of showo-ts trains with. Returns a cold Observable:
 * nothing runs until subscription; it emits `start`, one `step` per optimiser step (losses, learning rate, gradient
 * norm, tokens/s, ETA), `checkpoint` and `eval` events, and a final `done`, then completes.
 *
 * Cancellation: aborting `signal` is graceful — the run stops before the next micro-batch (an unfinished step is
 * discarded), saves a checkpoint of the last finished step, writes the loss curve and emits `done` with reason
 * `aborted`. Unsubscribing stops at the same point without saving anything.
 *
 * Per step: `gradAccumSteps` micro-batches, each `tf.variableGrads` of `model.lossFn(batch).total`, summed and
 * averaged; global-norm clipping; one AdamW update at the scheduled learning rate. One host read per step (the
 * losses and the norm together). On success, error or cancellation every tensor the run made is disposed, so
 * `tf.memory().numTensors` returns to where it was (the model's and a caller-provided optimiser's variables
 * excepted: they belong to the caller; a caller's optimiser keeps its moments for the next run).
 *
 * Checkpoints hold the weights, the optimiser moments, the step, every `state` component and the data position, so
 * a resumed run continues exactly as an uninterrupted one would.
 */
export function train<B>(options: TrainOptions<B>): Observable<TrainEvent> {
  return new Observable<TrainEvent>((subscriber) => {
    let cancelled = false;
    run(options, (e) => subscriber.next(e), () => cancelled).then(
      () => subscriber.complete(),
      (err) => subscriber.error(err),
    );
    return () => {
      cancelled = true;
    };
  });
}

async function run<B>(o: TrainOptions<B>, emit: (e: TrainEvent) => void, isCancelled: () => boolean): Promise<void> {
  const now = o.now ?? (() => performance.now());
  const accum = o.gradAccumSteps ?? 1;
  if (!(Number.isInteger(accum) && accum >= 1)) throw new InvalidArgumentError(`gradAccumSteps must be a positive integer, got ${accum}`);
  if (!(Number.isInteger(o.totalSteps) && o.totalSteps >= 0)) throw new InvalidArgumentError(`totalSteps must be an integer ≥ 0, got ${o.totalSteps}`);
  const lrOf = typeof o.schedule === 'function' ? o.schedule : ((s: LrSchedule) => (step: number) => learningRate(s, step))(validateSchedule(o.schedule));
  const params = namedVariables(o.model.trainableVariables());
  if (params.size === 0) throw new InvalidArgumentError('the model has no trainable variables');
  const varList = [...params.values()];
  const names = [...params.keys()];
  const byTfName = new Map<string, string>();
  for (const [k, v] of params) byTfName.set(v.name, k);
  const ownOptimizer = !o.optimizer || o.disposeOptimizer === true;
  const optimizer = o.optimizer ?? new AdamW();
  const components = new Map<string, Stateful>(Object.entries(o.state ?? {}));
  const dataStateful = isStateful(o.data);
  if (dataStateful && !components.has(DATA_KEY)) components.set(DATA_KEY, o.data as unknown as Stateful);
  const ck = o.checkpoint;
  const log = o.metricsLog ? new JsonlWriter(o.metricsLog) : undefined;
  const history: Array<Pick<StepEvent, 'step' | 'loss' | 'parts'>> = [];
  const emitLogged = (e: TrainEvent) => {
    log?.write(e);
    emit(e);
  };
  let engine: DualEngine | undefined;

  try {
    // ---- resume -------------------------------------------------------------------------------------------
    let step = 0;
    let batchesConsumed = 0;
    let resumedFrom: string | undefined;
    if (ck?.resume) {
      const where = typeof ck.resume === 'string' ? ck.resume : findLatestCheckpoint(ck.dir);
      if (typeof ck.resume === 'string' && !where) throw new CheckpointError('MISSING', ck.resume, 'no such checkpoint');
      if (where) {
        if (typeof ck.resume !== 'string') removeStaleTemporaries(ck.dir);
        const ckpt = readCheckpoint(where, { fingerprint: ck.fingerprint });
        restore(ckpt, params, optimizer, components, dataStateful);
        if (o.average) {
          try {
            if (ckpt.state.average) o.average.setState(ckpt.state.average, ckpt.averageTensors);
            else o.average.reset();
          } catch (e) {
            throw new CheckpointError('MISMATCH', where, (e as Error).message, { cause: e });
          }
        }
        step = ckpt.state.step;
        const consumed = ckpt.state.components[BATCHES_KEY];
        batchesConsumed = typeof consumed === 'number' ? consumed : 0;
        resumedFrom = where;
      }
    }
    optimizer.init(params);
    engine = await openEngine(o, params);
    const iterator = toIterator(o.data);
    const nextBatch = async (): Promise<B | undefined> => {
      const r = await iterator.next();
      return r.done ? undefined : r.value;
    };
    if (resumedFrom && !dataStateful) {
      // The data cannot restore its position: replay and drop the batches the checkpointed run consumed.
      for (let i = 0; i < batchesConsumed; i++) {
        const b = await nextBatch();
        if (b === undefined) throw new DataExhaustedError(step);
        o.disposeBatch?.(b);
      }
    }
    if (o.metricsLog) {
      if (resumedFrom) history.push(...truncateMetricsLog(o.metricsLog, step));
      else if (fs.existsSync(o.metricsLog)) fs.rmSync(o.metricsLog);
    }

    let parameters = 0;
    for (const v of varList) parameters += v.size;
    emitLogged({ type: 'start', step, totalSteps: o.totalSteps, parameters, ...(resumedFrom ? { resumedFrom } : {}) });

    const saveAt = async (s: number, states: Record<string, JsonValue>): Promise<string> => {
      const p = await saveCheckpoint(
        ck!.dir,
        { step: s, variables: params, optimizer, average: o.average, components: { ...states, [BATCHES_KEY]: stepBatches }, meta: o.meta ?? {}, fingerprint: ck!.fingerprint },
        { keepLast: ck!.keepLast },
      );
      emitLogged({ type: 'checkpoint', step: s, path: p });
      return p;
    };

    const runStart = now();
    let emaStepMs: number | undefined;
    let lastSaved = resumedFrom ? step : -1;
    let lastCheckpoint = resumedFrom;
    // State of the components at the end of the last finished step: what a checkpoint taken now must record.
    let stepState = snapshot(components);
    let stepBatches = batchesConsumed;
    let aborted = false;

    while (step < o.totalSteps) {
      // Let macrotasks run between steps: on synchronous backends (wasm, cpu) every await below resolves as a
      // microtask, so without this a signal handler (SIGTERM → abort) or a timer would never run mid-training.
      await yieldToEventLoop();
      if (isCancelled()) return; // unsubscribed: nobody listens, so no checkpoint, no curve; just free tensors
      if (o.signal?.aborted) {
        aborted = true;
        break;
      }
      const t0 = now();
      const lr = lrOf(step);
      let gradSum: Map<string, tf.Tensor> | undefined;
      let lossSum: tf.Scalar | undefined;
      const partSums = new Map<string, tf.Scalar>();
      let tokens = 0;
      let interrupted = false;
      try {
        for (let k = 0; k < accum; ) {
          if (k > 0 && (isCancelled() || o.signal?.aborted)) {
            interrupted = true;
            break;
          }
          const batch = await nextBatch();
          if (batch === undefined) throw new DataExhaustedError(step);
          batchesConsumed++;
          if (engine && k + 1 < accum) {
            // Two micro-batches at once, one per engine; accumulated exactly like two sequential ones.
            let second: B | undefined;
            try {
              second = await nextBatch();
              if (second === undefined) throw new DataExhaustedError(step);
              batchesConsumed++;
              const res = await pairGradients(engine, o.model as unknown as { engineCall(b: B): EngineCall }, batch, second, names);
              for (const r of res) {
                tokens += r.tokens;
                lossSum = accumulate(lossSum, r.value) as tf.Scalar;
                for (const [name, v] of Object.entries(r.aux)) partSums.set(name, accumulate(partSums.get(name), tf.scalar(v)) as tf.Scalar);
                gradSum ??= new Map();
                for (const [name, g] of Object.entries(r.grads)) gradSum.set(name, accumulate(gradSum.get(name), g));
              }
            } finally {
              o.disposeBatch?.(batch);
              if (second !== undefined) o.disposeBatch?.(second);
            }
            k += 2;
            continue;
          }
          try {
            let parts: Readonly<Record<string, tf.Scalar>> | undefined;
            const { value, grads } = tf.variableGrads(() => {
              const out = o.model.lossFn(batch);
              tokens += out.tokens ?? 0;
              parts = out.parts;
              if (parts) for (const p of Object.values(parts)) tf.keep(p);
              return out.total;
            }, varList);
            // Sum on the device; nothing is read back until the step ends.
            lossSum = accumulate(lossSum, value) as tf.Scalar;
            for (const [name, p] of Object.entries(parts ?? {})) partSums.set(name, accumulate(partSums.get(name), p) as tf.Scalar);
            gradSum ??= new Map();
            for (const [tfName, g] of Object.entries(grads)) {
              const name = byTfName.get(tfName)!;
              gradSum.set(name, accumulate(gradSum.get(name), g));
            }
          } finally {
            o.disposeBatch?.(batch);
          }
          k += 1;
        }
        if (interrupted) {
          if (isCancelled()) return;
          aborted = true;
          break;
        }
        const gradNames = [...gradSum!.keys()];
        const { grads: clipped, norm } = tf.tidy(() =>
          clipByGroupNorms(
            gradNames,
            gradNames.map((n) => (accum === 1 ? gradSum!.get(n)!.clone() : tf.div(gradSum!.get(n)!, accum))),
            o.clipGradNorm ?? Infinity,
            o.clipGroups ?? [],
          ),
        );
        const partNames = [...partSums.keys()];
        const summary = tf.tidy(() => tf.concat([tf.div(tf.stack([lossSum!, ...partNames.map((n) => partSums.get(n)!)]), accum), norm.reshape([1])]));
        norm.dispose();
        const host = await summary.data();
        summary.dispose();
        const loss = host[0];
        const gradNorm = host[host.length - 1];
        const skipped = (o.skipNonFinite ?? true) && !(Number.isFinite(loss) && Number.isFinite(gradNorm));
        try {
          if (!skipped) optimizer.apply(params, new Map(gradNames.map((n, i) => [n, clipped[i]])), lr);
        } finally {
          tf.dispose(clipped);
        }
        if (!skipped) o.average?.update();
        if (engine && !skipped) await engine.syncWeights();
        step++;
        stepState = snapshot(components);
        stepBatches = batchesConsumed;
        const stepMs = now() - t0;
        emaStepMs = emaStepMs === undefined ? stepMs : 0.9 * emaStepMs + 0.1 * stepMs;
        const parts: Record<string, number> = {};
        partNames.forEach((n, i) => (parts[n] = host[1 + i]));
        history.push({ step, loss, parts });
        emitLogged({
          type: 'step',
          step,
          totalSteps: o.totalSteps,
          loss,
          parts,
          lr,
          gradNorm,
          skipped,
          tokens,
          tokensPerSecond: stepMs > 0 ? (tokens * 1000) / stepMs : 0,
          stepMs,
          elapsedMs: now() - runStart,
          etaMs: emaStepMs * (o.totalSteps - step),
        });
      } finally {
        if (gradSum) tf.dispose([...gradSum.values()]);
        if (lossSum) lossSum.dispose();
        tf.dispose([...partSums.values()]);
      }

      if (ck && ck.everySteps && ck.everySteps > 0 && step % ck.everySteps === 0 && step < o.totalSteps) {
        lastCheckpoint = await saveAt(step, stepState);
        lastSaved = step;
      }
      if (o.evaluate && o.evaluate.everySteps > 0 && step % o.evaluate.everySteps === 0) {
        const metrics = await o.evaluate.run(step);
        emitLogged({ type: 'eval', step, metrics });
      }
    }

    if (ck && lastSaved !== step && step > 0 && (aborted ? ck.onAbort ?? true : ck.atEnd ?? true)) {
      // On abort the interrupted step is discarded: the checkpoint records the state after the last finished step.
      lastCheckpoint = await saveAt(step, stepState);
    }
    if (o.lossCurve && history.length) writeLossCurve(o.lossCurve, history);
    emitLogged({
      type: 'done',
      step,
      reason: aborted ? 'aborted' : 'completed',
      elapsedMs: now() - runStart,
      ...(lastCheckpoint ? { checkpoint: lastCheckpoint } : {}),
    });
  } finally {
    if (ownOptimizer) optimizer.dispose();
    await engine?.dispose();
  }
}

/** The second engine for `workers: 2`, with the weights mirrored; undefined when one engine is used. */
async function openEngine<B>(o: TrainOptions<B>, params: ReadonlyMap<string, tf.Variable>): Promise<DualEngine | undefined> {
  const count = o.workers === 'auto' ? (isEngineTrainable(o.model) ? resolveWorkerCount('auto') : 1) : resolveWorkerCount(o.workers);
  if (count === 1) return undefined;
  if (!isEngineTrainable(o.model)) {
    if (o.workers === undefined) return undefined; // SHOWO_WORKERS=2 asks for it where possible
    throw new InvalidArgumentError('workers: 2 needs a model that can run in an engine worker (EngineTrainable: engineModule + engineCall), e.g. ShowoTask');
  }
  const engine = await DualEngine.create({ module: o.model.engineModule, workers: 2 });
  try {
    await engine.setWeights(Object.fromEntries(params));
  } catch (e) {
    await engine.dispose();
    throw e;
  }
  return engine;
}

/** Gradients of two micro-batches on the two engines (inputs disposed here, results owned by the caller). */
async function pairGradients<B>(engine: DualEngine, model: { engineCall(b: B): EngineCall }, a: B, b: B, names: string[]) {
  const calls: EngineCall[] = [];
  try {
    calls.push(model.engineCall(a), model.engineCall(b));
    if (calls[0]!.fn !== calls[1]!.fn) throw new InvalidArgumentError(`engineCall returned different functions for two micro-batches (${calls[0]!.fn}, ${calls[1]!.fn})`);
    const res = await engine.valueAndGradsEach(calls[0]!.fn, [calls[0]!.inputs, calls[1]!.inputs], [calls[0]!.options, calls[1]!.options], names);
    return res.map((r, i) => ({ ...r, tokens: calls[i]!.tokens ?? 0 }));
  } finally {
    for (const c of calls) tf.dispose(Object.values(c.inputs));
  }
}

/** Resolves on the next macrotask turn (setImmediate in Node, setTimeout elsewhere). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

/** `sum + x`, disposing both inputs (x is owned by the caller's step; sum is the running total). */
function accumulate(sum: tf.Tensor | undefined, x: tf.Tensor): tf.Tensor {
  if (!sum) return x;
  const out = tf.add(sum, x);
  sum.dispose();
  x.dispose();
  return out;
}

function restore(
  ckpt: LoadedCheckpoint,
  params: ReadonlyMap<string, tf.Variable>,
  optimizer: AdamW,
  components: ReadonlyMap<string, Stateful>,
  dataStateful: boolean,
): void {
  checkVariablesMatch(ckpt, params);
  const saved = ckpt.state.components ?? {};
  for (const k of components.keys()) {
    if (!(k in saved)) throw new CheckpointError('MISMATCH', ckpt.path, `it has no state for "${k}" (saved: ${Object.keys(saved).join(', ') || 'none'})`);
  }
  for (const k of Object.keys(saved)) {
    if (k === BATCHES_KEY || (k === DATA_KEY && !dataStateful && !components.has(k))) continue;
    if (!components.has(k)) throw new CheckpointError('MISMATCH', ckpt.path, `it holds state "${k}" that this run does not have`);
  }
  if (ckpt.state.optimizer) {
    try {
      optimizer.setState(ckpt.state.optimizer, ckpt.optimizerTensors, params);
    } catch (e) {
      throw new CheckpointError('MISMATCH', ckpt.path, (e as Error).message, { cause: e });
    }
  }
  assignWeights(ckpt, params);
  for (const [k, s] of components) {
    try {
      s.setState(saved[k]);
    } catch (e) {
      throw new CheckpointError('MISMATCH', ckpt.path, `state "${k}" cannot be restored: ${(e as Error).message}`, { cause: e });
    }
  }
}

/**
 * Two tfjs engines, one per core: the main thread's and a second wasm instance in a `node:worker_threads` worker.
 *
 * tfjs-backend-wasm is single-threaded in Node, so one process uses one core. A {@link DualEngine} runs the same
 * *engine module* (an ES module exporting {@link EngineFunction}s) on both, with the weights mirrored once into the
 * worker, and splits work that has two independent halves:
 * - **CFG**: the conditional and unconditional branches of classifier-free guidance ({@link DualEngine.runPair},
 *   or {@link DualEngine.runSplit} when both are in one batch);
 * - **training**: the two halves of a batch, gradients averaged ({@link DualEngine.valueAndGrads}).
 *
 * With `workers: 1` every call runs on the main thread, sequentially, with the same results and the same API — so
 * callers need no second code path. Choose with the `workers` option or `SHOWO_WORKERS=1|2`.
 *
 * @example
 * ```ts
 * // model-engine.ts — the engine module (must import only what a worker can load)
 * export function forward(ctx: EngineContext, inputs: NamedTensors, options: unknown) {
 *   return myModel(ctx.weights, inputs.ids);           // returns logits
 * }
 * export function loss(ctx: EngineContext, inputs: NamedTensors) {
 *   return myLoss(ctx.weights, inputs.ids, inputs.labels); // scalar, mean over the batch
 * }
 *
 * // caller
 * const engine = await DualEngine.create({ module: new URL('./model-engine.js', import.meta.url), workers: 2 });
 * await engine.setWeights(weights);                    // copied into the worker once
 * const [cond, uncond] = await engine.runPair('forward', [{ ids: condIds }, { ids: uncondIds }]);
 * const { value, grads } = await engine.valueAndGrads('loss', { ids, labels }); // batch halves on both cores
 * myOptimizerStep(grads);                              // grads are keyed by the names given to setWeights
 * await engine.syncWeights();                          // re-mirror the updated weights into the worker
 * tf.dispose([value, ...Object.values(grads)]);
 * await engine.dispose();
 * ```
 *
 * The module URL may point at a `.ts` file in development (the worker then registers tsx's loader before importing
 * anything) or at the built `.js`; this file finds its own worker entry the same way (`engine-worker.ts` next to
 * the sources, `engine-worker.js` in dist). Weights are referenced, not copied, on the main thread: keep them alive
 * while the engine uses them. Meant for the wasm backend (one core per instance); on tfjs-node use `workers: 1`.
 *
 * Costs, measured: starting the worker takes seconds (2.2–4 s on the shared 2-core machine, from sources or dist: a
 * fresh wasm instance and module graph) — create one engine and keep it; each call copies its inputs and outputs
 * once (`dataSync` + a transferred buffer: ~1 ms for 1.2 MB each way), and `valueAndGrads`/`syncWeights` move one
 * copy of the gradients/weights — negligible next to calls of tens of ms or more, dominant for calls of ~1 ms. Return only what the caller needs from an engine function (e.g. the logits of
 * the image positions, not of the whole vocabulary at every position): every output crosses the thread boundary.
 * Weights with nested structure are registered flat, one name per tensor. `scripts/bench-primitives.ts` prints the
 * gain next to the machine's load.
 */
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, ShowoError } from '../errors.js';
import { ExchangeAbortedError, PairExchange, SINGLE_ENGINE } from './exchange.js';
import { LocalEngine, SINGLE_OUTPUT } from './local-engine.js';
import { fromWireAll, toWireAll, type FromWorker, type NamedTensors, type ToWorker, type WireTensors } from './protocol.js';

export type { EngineContext, EngineFunction } from './local-engine.js';
export type { NamedTensors } from './protocol.js';

/** The worker failed or answered with an error. */
export class WorkerError extends ShowoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('WORKER_ERROR', message, options);
  }
}

/** Loss, gradients by weight name (tensors owned by the caller) and the other scalar outputs of one evaluation. */
export interface GradientResult {
  value: tf.Scalar;
  grads: NamedTensors;
  aux: Record<string, number>;
}

/** Output of an engine function: what it returned, a tensor or a record of tensors. */
export type EngineOutput = tf.Tensor | NamedTensors;

export interface DualEngineOptions {
  /** The engine module: a file URL, or a path (relative paths resolve against the current directory). */
  module: string | URL;
  /**
   * 1: everything on the main thread. 2: a second engine in a worker. 'auto': 2 when the machine has at least two
   * cores. Default: `SHOWO_WORKERS` from `env` when set (1, 2 or auto), else 1.
   */
  workers?: 1 | 2 | 'auto';
  /** Backend of the worker's engine. Default: the main thread's current tfjs backend. */
  backend?: string;
  /** Environment to read SHOWO_WORKERS from (default process.env). */
  env?: Record<string, string | undefined>;
}

export interface SplitOptions {
  /** Passed to the engine function on both engines (structured-cloneable data). */
  options?: unknown;
  /** Names of inputs given whole to both halves instead of being split along axis 0 (e.g. a shared mask). */
  shared?: string[];
}

/** Resolves the worker count from the option and `SHOWO_WORKERS`. */
export function resolveWorkerCount(requested: DualEngineOptions['workers'], env: Record<string, string | undefined> = process.env): 1 | 2 {
  let want: string | number | undefined = requested;
  if (want === undefined) want = env.SHOWO_WORKERS?.trim() || 1;
  if (want === 'auto') return (os.availableParallelism?.() ?? os.cpus().length) >= 2 ? 2 : 1;
  const n = Number(want);
  if (n !== 1 && n !== 2) throw new InvalidArgumentError(`workers must be 1, 2 or "auto" (SHOWO_WORKERS=1|2|auto), got ${JSON.stringify(want)}`);
  return n;
}

function moduleHref(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (/^[a-z]+:/i.test(m) && !/^[a-z]:[\\/]/i.test(m)) return m; // already a URL (not a Windows drive path)
  return pathToFileURL(path.resolve(m)).href;
}

const isTs = (href: string): boolean => /\.[cm]?ts$/.test(new URL(href).pathname);

interface Pending {
  resolve: (msg: Extract<FromWorker, { type: 'done' }>) => void;
  reject: (e: Error) => void;
}

/** Splits along axis 0 into ⌈n/2⌉ and ⌊n/2⌋; shared inputs go whole to both. */
function splitInputs(inputs: NamedTensors, shared: string[]): { a: NamedTensors; b: NamedTensors; na: number; nb: number } {
  let n: number | undefined;
  for (const [name, t] of Object.entries(inputs)) {
    if (shared.includes(name)) continue;
    if (t.rank === 0) throw new InvalidArgumentError(`cannot split scalar input "${name}" along the batch axis (list it in "shared")`);
    if (n === undefined) n = t.shape[0];
    else if (t.shape[0] !== n) throw new InvalidArgumentError(`inputs disagree on the batch size: "${name}" has ${t.shape[0]}, expected ${n} (list shared inputs in "shared")`);
  }
  if (n === undefined) throw new InvalidArgumentError('no input to split along the batch axis');
  const na = Math.ceil(n / 2);
  const nb = n - na;
  const a: NamedTensors = {};
  const b: NamedTensors = {};
  for (const [name, t] of Object.entries(inputs)) {
    if (shared.includes(name) || nb === 0) {
      a[name] = t;
      b[name] = t;
    } else {
      const [ta, tb] = tf.split(t, [na, nb], 0);
      a[name] = ta;
      b[name] = tb;
    }
  }
  return { a, b, na, nb };
}

function disposeSplit(halves: NamedTensors, inputs: NamedTensors): void {
  for (const [name, t] of Object.entries(halves)) if (inputs[name] !== t) t.dispose();
}

/** See the module documentation above. */
export class DualEngine {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failed: Error | undefined;
  private weightNames: string[] = [];
  private disposed = false;
  private exchange: PairExchange | undefined;

  private constructor(
    /** Engines in use: 1 (main thread only) or 2 (main thread + worker). */
    readonly workers: 1 | 2,
    private readonly local: LocalEngine,
    private readonly worker: Worker | undefined,
  ) {
    worker?.on('message', (msg: FromWorker) => this.onMessage(msg));
    worker?.on('error', (e) => this.fail(new WorkerError(`engine worker crashed: ${e.message}`, { cause: e })));
    worker?.on('exit', (code) => {
      if (!this.disposed) this.fail(new WorkerError(`engine worker exited with code ${code}`));
    });
    worker?.unref(); // an idle engine must not keep the process alive; re-referenced while calls are pending
  }

  /**
   * Loads the engine module on the main thread and, with 2 workers, starts the worker (a fresh wasm instance and
   * module graph: seconds) and loads the module there too.
   */
  static async create(options: DualEngineOptions): Promise<DualEngine> {
    const workers = resolveWorkerCount(options.workers, options.env ?? process.env);
    const href = moduleHref(options.module);
    const mod = (await import(href)) as Record<string, unknown>;
    const local = new LocalEngine(mod, 0);
    if (workers === 1) return new DualEngine(1, local, undefined);

    const here = import.meta.url;
    const devSources = isTs(here);
    const workerUrl = new URL(devSources ? './engine-worker.ts' : './engine-worker.js', here);
    let worker: Worker;
    if (devSources || isTs(href)) {
      // TypeScript sources: Node 20 does not apply `--import tsx` hooks to a worker's entry module, so a tiny
      // JavaScript bootstrap registers tsx's loader in the worker first, then imports the real entry.
      let tsxApi = 'tsx/esm/api';
      try {
        tsxApi = import.meta.resolve('tsx/esm/api');
      } catch {
        /* resolved from the working directory instead */
      }
      const bootstrap =
        "const { workerData } = require('node:worker_threads');" +
        'import(workerData.tsxApi).then((api) => { api.register(); return import(workerData.entry); })' +
        '.catch((e) => { setImmediate(() => { throw e; }); });';
      worker = new Worker(bootstrap, { eval: true, workerData: { tsxApi, entry: workerUrl.href } });
    } else {
      worker = new Worker(workerUrl);
    }
    const backend = options.backend ?? tf.getBackend();
    await new Promise<void>((resolve, reject) => {
      const onMessage = (msg: FromWorker): void => {
        if (msg.type === 'ready') {
          cleanup();
          resolve();
        } else if (msg.type === 'error') {
          cleanup();
          reject(new WorkerError(`engine worker failed to start: ${msg.message}`));
        }
      };
      const onError = (e: Error): void => {
        cleanup();
        reject(new WorkerError(`engine worker failed to start: ${e.message}`, { cause: e }));
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(new WorkerError(`engine worker exited during start (code ${code})`));
      };
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage({ type: 'init', moduleUrl: href, backend } satisfies ToWorker);
    }).catch(async (e) => {
      await worker.terminate();
      throw e;
    });
    return new DualEngine(2, local, worker);
  }

  private onMessage(msg: FromWorker): void {
    if (msg.type === 'ready') return;
    const p = this.pending.get(msg.id);
    if (!p) {
      if (msg.type === 'error') this.fail(new WorkerError(`engine worker: ${msg.message}`));
      return;
    }
    this.pending.delete(msg.id);
    if (this.pending.size === 0) this.worker?.unref();
    if (msg.type === 'error') {
      const e = new WorkerError(`engine worker: ${msg.message}`);
      if (msg.stack) e.stack = `${e.name}: ${e.message}\n--- in the worker ---\n${msg.stack}`;
      p.reject(e);
    } else p.resolve(msg);
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private send(msg: ToWorker, transfer: ArrayBuffer[] = []): Promise<Extract<FromWorker, { type: 'done' }>> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new WorkerError('no worker'));
    if (this.failed) return Promise.reject(this.failed);
    if (this.disposed) return Promise.reject(new WorkerError('engine disposed'));
    return new Promise((resolve, reject) => {
      const id = (msg as { id: number }).id;
      if (this.pending.size === 0) worker.ref();
      this.pending.set(id, { resolve, reject });
      worker.postMessage(msg, transfer);
    });
  }

  private id(): number {
    return this.nextId++;
  }

  /**
   * Registers the weights by name. The main thread uses these very tensors (no copy — keep them alive and do not
   * dispose them while the engine runs); the worker gets a copy, sent once. Names not in `weights` are dropped.
   */
  async setWeights(weights: NamedTensors): Promise<void> {
    this.local.setWeights(weights, false, true);
    this.weightNames = Object.keys(weights);
    if (!this.worker) return;
    const { wire, transfer } = toWireAll(weights);
    await this.send({ type: 'setWeights', id: this.id(), weights: wire, replace: true }, transfer);
  }

  /**
   * Copies the current values of the registered weights (all, or the named ones) into the worker again: call after
   * an optimizer step, or after assigning new values to the weight variables. A no-op with one worker.
   */
  async syncWeights(names: string[] = this.weightNames): Promise<void> {
    if (!this.worker) return;
    const subset: NamedTensors = {};
    for (const n of names) {
      const t = this.local.weights[n];
      if (!t) throw new InvalidArgumentError(`syncWeights: no weight named "${n}"`);
      subset[n] = t;
    }
    const { wire, transfer } = toWireAll(subset);
    await this.send({ type: 'setWeights', id: this.id(), weights: wire, replace: false }, transfer);
  }

  /** Runs `fn` on the main thread's engine only. */
  async run(fn: string, inputs: NamedTensors, options?: unknown): Promise<EngineOutput> {
    this.check();
    return this.local.call(fn, inputs, options);
  }

  /**
   * Runs `fn(inputs[0])` on the main thread and `fn(inputs[1])` on the worker at the same time (both on the main
   * thread, one after the other, with one worker). The typical use is classifier-free guidance: conditional and
   * unconditional branch. Per-engine `ctx.state` stays with its branch (engine 0: first, engine 1: second).
   * Outputs are owned by the caller.
   */
  async runPair(fn: string, inputs: [NamedTensors, NamedTensors], options?: unknown): Promise<[EngineOutput, EngineOutput]> {
    this.check();
    if (!this.worker) {
      const first = this.local.call(fn, inputs[0], options);
      try {
        return [first, this.local.call(fn, inputs[1], options)];
      } catch (e) {
        tf.dispose(first instanceof tf.Tensor ? first : Object.values(first));
        throw e;
      }
    }
    // Post the worker's half first, then compute ours while it computes its own.
    const { wire, transfer } = toWireAll(inputs[1]);
    const remote = this.send({ type: 'call', id: this.id(), fn, inputs: wire, options }, transfer);
    let mine: EngineOutput;
    try {
      mine = this.local.call(fn, inputs[0], options);
    } catch (e) {
      await remote.then(
        (m) => m.outputs && tf.dispose(Object.values(fromWireAll(m.outputs))),
        () => undefined,
      );
      throw e;
    }
    let msg: Extract<FromWorker, { type: 'done' }>;
    try {
      msg = await remote;
    } catch (e) {
      tf.dispose(mine instanceof tf.Tensor ? mine : Object.values(mine));
      throw e;
    }
    return [mine, outputOf(msg.outputs ?? {})];
  }

  /**
   * Splits every input along axis 0 (batch) into two halves, runs `fn` on both halves in parallel (the first,
   * larger half on the main thread) and concatenates every output along axis 0. For functions whose outputs are
   * per-sample (forward passes); with one worker it simply runs `fn` on the whole batch.
   */
  async runSplit(fn: string, inputs: NamedTensors, split: SplitOptions = {}): Promise<EngineOutput> {
    this.check();
    if (!this.worker) return this.local.call(fn, inputs, split.options);
    const { a, b, nb } = splitInputs(inputs, split.shared ?? []);
    try {
      if (nb === 0) return this.local.call(fn, inputs, split.options);
      const [oa, ob] = await this.runPair(fn, [a, b], split.options);
      return concatOutputs(oa, ob);
    } finally {
      disposeSplit(a, inputs);
      disposeSplit(b, inputs);
    }
  }

  /**
   * Loss and gradients with the batch split over both engines: each computes the value and gradients of `fn` (a
   * scalar **mean over its samples**) on its half, and the results are averaged weighted by half size — exactly
   * the full-batch mean loss and gradient. Gradients are keyed by weight name (default: all float32 weights), and
   * owned by the caller. With one worker, the whole batch runs on the main thread.
   */
  async valueAndGrads(fn: string, inputs: NamedTensors, split: SplitOptions & { weights?: string[] } = {}): Promise<{ value: tf.Scalar; grads: NamedTensors }> {
    this.check();
    const localOnly = (x: NamedTensors): { value: tf.Scalar; grads: NamedTensors } => {
      const { value, grads, aux } = this.local.valueAndGrads(fn, x, split.options, split.weights);
      tf.dispose(Object.values(aux));
      return { value, grads };
    };
    if (!this.worker) return localOnly(inputs);
    const { a, b, na, nb } = splitInputs(inputs, split.shared ?? []);
    try {
      if (nb === 0) return localOnly(inputs);
      const { wire, transfer } = toWireAll(b);
      const remote = this.send({ type: 'call', id: this.id(), fn, inputs: wire, options: split.options, grads: split.weights ?? [] }, transfer);
      let mine: { value: tf.Scalar; grads: NamedTensors };
      try {
        mine = localOnly(a);
      } catch (e) {
        await remote.catch(() => undefined);
        throw e;
      }
      const msg = await remote;
      const theirs = fromWireAll(msg.outputs ?? {});
      const wa = na / (na + nb);
      const wb = nb / (na + nb);
      const grads: NamedTensors = {};
      for (const [name, g] of Object.entries(mine.grads)) {
        grads[name] = tf.tidy(() => tf.add(tf.mul(g, wa), tf.mul(theirs[name], wb)));
      }
      const value = tf.tidy(() => tf.add(tf.mul(mine.value, wa), (msg.value ?? 0) * wb)) as tf.Scalar;
      tf.dispose([mine.value, ...Object.values(mine.grads), ...Object.values(theirs)]);
      return { value, grads };
    } finally {
      disposeSplit(a, inputs);
      disposeSplit(b, inputs);
    }
  }

  /**
   * Value and gradients of `fn` on two different inputs at once: `inputs[0]` (with `options[0]`) on the main
   * thread, `inputs[1]` on the worker — e.g. two micro-batches of one optimiser step, whose gradients the caller
   * then accumulates exactly as it would have sequentially (`DualEngine` does not average them). `fn` returns a
   * scalar loss or a record with a scalar `loss`; the record's other scalar outputs come back as `aux` numbers
   * (e.g. loss parts). With one worker both run on the main thread, one after the other. Tensors are owned by the
   * caller.
   */
  async valueAndGradsEach(
    fn: string,
    inputs: [NamedTensors, NamedTensors],
    options: [unknown, unknown] = [undefined, undefined],
    weights?: string[],
  ): Promise<[GradientResult, GradientResult]> {
    this.check();
    const local = (x: NamedTensors, o: unknown): GradientResult => {
      const { value, grads, aux } = this.local.valueAndGrads(fn, x, o, weights);
      const host: Record<string, number> = {};
      for (const [k, t] of Object.entries(aux)) host[k] = t.dataSync()[0];
      tf.dispose(Object.values(aux));
      return { value, grads, aux: host };
    };
    if (!this.worker) {
      const first = local(inputs[0], options[0]);
      try {
        return [first, local(inputs[1], options[1])];
      } catch (e) {
        tf.dispose([first.value, ...Object.values(first.grads)]);
        throw e;
      }
    }
    const { wire, transfer } = toWireAll(inputs[1]);
    const remote = this.send({ type: 'call', id: this.id(), fn, inputs: wire, options: options[1], grads: weights ?? [] }, transfer);
    let mine: GradientResult;
    try {
      mine = local(inputs[0], options[0]);
    } catch (e) {
      await remote.then(
        (m) => m.outputs && tf.dispose(Object.values(fromWireAll(m.outputs))),
        () => undefined,
      );
      throw e;
    }
    let msg: Extract<FromWorker, { type: 'done' }>;
    try {
      msg = await remote;
    } catch (e) {
      tf.dispose([mine.value, ...Object.values(mine.grads)]);
      throw e;
    }
    const theirs: GradientResult = { value: tf.scalar(msg.value ?? NaN), grads: fromWireAll(msg.outputs ?? {}), aux: msg.aux ?? {} };
    return [mine, theirs];
  }

  /**
   * Runs `fn` on both engines at once as two shares of **one** computation (tensor parallelism): each call sees
   * `ctx.parallel` ({ rank, size, allReduceSum }) and computes its share — e.g. half of the attention heads and half
   * of the MLP of every layer — and `allReduceSum` joins the shares through shared memory wherever the function
   * needs the whole. Returns the main thread's output (the worker's is discarded), owned by the caller. With one
   * worker, `fn` runs once on the main thread with `{ rank: 0, size: 1 }` and must compute everything.
   *
   * `exchangeFloats` is the largest tensor one all-reduce carries (float32 values); shared memory is allocated for
   * it once and grown when a call needs more. If either engine fails, the other stops waiting and the call rejects.
   */
  async runTensorParallel(fn: string, inputs: NamedTensors, options: unknown, exchangeFloats: number): Promise<EngineOutput> {
    this.check();
    if (!this.worker) return this.local.call(fn, inputs, options, SINGLE_ENGINE);
    if (!this.exchange || this.exchange.capacity < exchangeFloats) {
      const exchange = PairExchange.create(Math.max(exchangeFloats, 1 << 16));
      await this.send({ type: 'exchange', id: this.id(), buffer: exchange.buffer });
      this.exchange = exchange;
    }
    const exchange = this.exchange;
    const { wire, transfer } = toWireAll(inputs);
    const remote = this.send({ type: 'call', id: this.id(), fn, inputs: wire, options, parallel: true }, transfer);
    let mine: EngineOutput;
    try {
      mine = this.local.call(fn, inputs, options, exchange.context(0));
    } catch (e) {
      exchange.abort();
      const theirs = await remote.then(
        () => undefined,
        (w: unknown) => w,
      );
      exchange.reset();
      // When this side only stopped because the worker failed, the worker's error is the one that explains it.
      throw e instanceof ExchangeAbortedError && theirs ? theirs : e;
    }
    try {
      await remote;
    } catch (e) {
      tf.dispose(mine instanceof tf.Tensor ? mine : Object.values(mine));
      exchange.reset();
      throw e;
    }
    return mine;
  }

  /** Clears `ctx.state` on both engines (disposing the tensors in it). */
  async resetState(): Promise<void> {
    this.local.resetState();
    if (this.worker) await this.send({ type: 'resetState', id: this.id() });
  }

  /** `tf.memory()` of the worker's engine (undefined with one worker): for leak checks and memory budgets. */
  async workerMemory(): Promise<tf.MemoryInfo | undefined> {
    if (!this.worker) return undefined;
    return (await this.send({ type: 'memory', id: this.id() })).extra as tf.MemoryInfo;
  }

  /** Stops the worker and drops the engine's references (the caller's weights are not disposed). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    if (this.worker && !this.failed) {
      await this.send({ type: 'dispose', id: this.id() }).catch(() => undefined);
    }
    this.disposed = true;
    this.local.resetState();
    this.local.setWeights({}, false, true);
    await this.worker?.terminate();
  }

  private check(): void {
    if (this.disposed) throw new WorkerError('engine disposed');
    if (this.failed) throw this.failed;
  }
}

function outputOf(wire: WireTensors): EngineOutput {
  const named = fromWireAll(wire);
  return SINGLE_OUTPUT in named ? named[SINGLE_OUTPUT] : named;
}

function concatOutputs(a: EngineOutput, b: EngineOutput): EngineOutput {
  try {
    if (a instanceof tf.Tensor) return tf.concat([a, b as tf.Tensor], 0);
    const out: NamedTensors = {};
    for (const [name, t] of Object.entries(a)) out[name] = tf.concat([t, (b as NamedTensors)[name]], 0);
    return out;
  } finally {
    tf.dispose(a instanceof tf.Tensor ? [a, b as tf.Tensor] : [...Object.values(a), ...Object.values(b as NamedTensors)]);
  }
}

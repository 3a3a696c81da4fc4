/**
 * Classifier-free guidance on two cores: the conditional rows of a MaskGIT window run on the main thread while
 * their unconditional twins run in a worker thread (a `DualEngine` of `@showo/runtime`), each against its own
 * prefix cache. The pipelines see an ordinary {@link ImageLogitsSession} returning [cond; uncond] logits, so the
 * guidance math and the results are those of the single-engine prefix-cache session (the same code on the same
 * rows: equal up to float rounding, identical in practice).
 *
 * ```ts
 * const engine = await createShowoEngine(model, { workers: 2 });   // @showo/showo-core; seconds: keep it
 * const dual = withDualEngine(model, engine);
 * await lastValueFrom(textToImage({ model: dual, prompting }, { prompts, guidanceScale: 5 }));
 * await engine.dispose();                                           // before model.dispose()
 * ```
 *
 * The conditional half is the wrapped model's own prefix-cache session on the main thread. The unconditional half
 * runs in the engine's worker, through an *engine module* exporting three functions (showo-core's `engine.ts`
 * does), each taking the options `{ ...engineOptions, session }`:
 * - `prefill({ ids [B, P] int32, allow [B, P, P] bool, blockAllow [B, N+2, P+N+2] bool })`: keeps the prefix cache
 *   and the block's mask rows of the session in `ctx.state`;
 * - `imageLogits({ block [B, N+2] int32 }, { start, length, columns? })` → logits [B, length, V or columns.count];
 * - `release({})`: frees the session's state.
 *
 * They are called with `runPair` and an empty first half, which they must answer with an empty record (the main
 * thread computes its half itself, so its cache belongs to the session and is freed synchronously, even when the
 * worker fails). With a one-worker engine the unconditional half runs on the main thread, before the other.
 * Per step, the worker gets the block ids of its rows and returns the codebook columns of their image logits.
 *
 * Windows without guidance, masks whose prefix cannot be cached and `cache: 'none'` fall back to the sampler's own
 * sessions on the main thread, as do decoding sessions (the model's other methods are delegated unchanged).
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, type DualEngine, type NamedTensors } from '@showo/runtime';
import { selectBatch, sliceMask, type AllowMask } from '@showo/omni-attention';
import { ModelOutputError } from './errors.js';
import { isCachingModel, openImageSession, prefixIsCacheable, type CacheMode, type ImageLogitsModel, type ImageLogitsSession, type ImageSessionInput } from './sessions.js';
import type { CacheHandle, CachingSequenceModel, LogitsRange } from './types.js';

/** A dual engine, or a function that makes one on first use (called once per session until it succeeds). */
export type DualEngineSource = DualEngine | (() => DualEngine | Promise<DualEngine>);

/** Options of {@link withDualEngine}. */
export interface DualCfgOptions {
  /**
   * Passed to every engine function besides the session key. Default `{ config: model.config }` (what
   * showo-core's engine module needs) when the model has a config.
   */
  engineOptions?: Record<string, unknown>;
  /** `none`: never use caches (every window falls back to full recomputation on the main thread). Default `auto`. */
  cache?: CacheMode;
  /** Return only the codebook columns from the engines (default true: less to copy between threads). */
  codebookOnly?: boolean;
}

let nextSession = 1;

/** A bool tensor of a host mask. */
const maskTensor = (m: AllowMask): tf.Tensor3D => tf.tensor3d(m.data, [m.batch, m.queries, m.keys], 'bool');

/** Thrown by a session used after it was disposed. */
class ClosedSessionError extends InvalidArgumentError {
  constructor() {
    super('the image session was disposed');
  }
}

/** Disposes whatever an engine call returned. */
function disposeOutput(out: tf.Tensor | NamedTensors): void {
  tf.dispose(out instanceof tf.Tensor ? out : Object.values(out));
}

/** The first or second half of a guided window's rows, as a window of its own. */
function halfInput(input: ImageSessionInput, first: number, count: number): ImageSessionInput {
  const p = input.prefixLength;
  return {
    prefixIds: input.prefixIds.slice(first * p, (first + count) * p),
    rows: count,
    prefixLength: p,
    numImageTokens: input.numImageTokens,
    allow: selectBatch(input.allow, Array.from({ length: count }, (_, i) => first + i)),
    ...(input.codebook ? { codebook: input.codebook } : {}),
  };
}

/**
 * The session. The conditional half is an ordinary prefix-cache session on the main thread (its cache is this
 * session's, freed synchronously); the unconditional half lives in the engine's worker, under this session's key.
 * Each engine call goes through `runPair` with an empty first half (engine functions ignore empty calls): the
 * worker's message is posted first, then the main thread computes its half while the worker computes the other.
 */
class DualCfgSession implements ImageLogitsSession {
  readonly cached = true;
  readonly firstColumn: number;
  private readonly key = `dual-cfg-${nextSession++}`;
  private readonly half: number;
  private readonly cond: ImageSessionInput;
  private readonly uncond: ImageSessionInput;
  private engine: DualEngine | undefined;
  private condSession: ImageLogitsSession | undefined;
  /** Set once `prefill` was sent: from then on `release` must be sent too. */
  private started = false;
  private prefilled: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly model: CachingSequenceModel,
    private readonly source: DualEngineSource,
    input: ImageSessionInput,
    private readonly engineOptions: Record<string, unknown>,
    private readonly columns: { start: number; count: number } | undefined,
  ) {
    this.half = input.rows / 2;
    if (!Number.isInteger(this.half) || this.half < 1) throw new InvalidArgumentError(`a guided window has an even number of rows, got ${input.rows}`);
    this.cond = halfInput(input, 0, this.half);
    this.uncond = halfInput(input, this.half, this.half);
    this.firstColumn = columns?.start ?? 0;
  }

  private live(): void {
    if (this.closed) throw new ClosedSessionError();
  }

  private options(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { ...this.engineOptions, ...extra, session: this.key };
  }

  /**
   * `fn` on the worker with `inputs` (sent first) while `local` runs on the main thread. On any failure both sides'
   * outputs are freed.
   */
  private async pair<T extends tf.Tensor | undefined>(engine: DualEngine, fn: string, inputs: NamedTensors, options: Record<string, unknown>, local: () => T): Promise<[T, tf.Tensor | NamedTensors]> {
    const remote = engine.runPair(fn, [{}, inputs], options);
    let mine: T;
    try {
      mine = local();
    } catch (e) {
      remote.then(([a, b]) => (disposeOutput(a), disposeOutput(b)), () => undefined);
      throw e;
    }
    try {
      const [empty, theirs] = await remote;
      disposeOutput(empty);
      return [mine, theirs];
    } catch (e) {
      mine?.dispose();
      throw e;
    }
  }

  /** Both halves' prefix caches, once (a failed prefill fails every later call the same way). */
  private prefill(engine: DualEngine): Promise<void> {
    this.prefilled ??= (async () => {
      const { prefixLength: p, numImageTokens: n, prefixIds, allow } = this.uncond;
      const inputs: NamedTensors = {
        ids: tf.tensor2d(prefixIds, [this.half, p], 'int32'),
        allow: maskTensor(sliceMask(allow, { queries: [0, p], keys: [0, p] })),
        blockAllow: maskTensor(sliceMask(allow, { queries: [p, p + n + 2] })),
      };
      try {
        this.started = true;
        const [, out] = await this.pair(engine, 'prefill', inputs, this.options(), () => {
          this.condSession = openImageSession(this.model, this.cond, 'auto');
          return undefined;
        });
        disposeOutput(out);
      } finally {
        tf.dispose(Object.values(inputs));
      }
    })();
    return this.prefilled;
  }

  async imageLogits(block: Int32Array): Promise<tf.Tensor3D> {
    this.live();
    if (!this.engine) {
      const s = this.source;
      const engine = typeof s === 'function' ? await s() : s;
      this.live();
      this.engine = engine;
    }
    const engine = this.engine;
    await this.prefill(engine);
    this.live();
    const n = this.cond.numImageTokens;
    const h = this.half;
    const len = n + 2;
    if (block.length !== 2 * h * len) throw new InvalidArgumentError(`image blocks: expected ${2 * h}×${len} ids, got ${block.length}`);
    const uncondBlock = tf.tensor2d(block.subarray(h * len), [h, len], 'int32');
    let cond: tf.Tensor3D;
    let uncond: tf.Tensor | NamedTensors;
    try {
      [cond, uncond] = await this.pair(engine, 'imageLogits', { block: uncondBlock }, this.options({ start: 1, length: n, ...(this.columns ? { columns: this.columns } : {}) }), () =>
        this.condLogits(block.subarray(0, h * len)),
      );
    } finally {
      uncondBlock.dispose();
    }
    try {
      this.live();
      if (!(uncond instanceof tf.Tensor) || uncond.rank !== 3 || uncond.shape[0] !== h || uncond.shape[1] !== n || uncond.shape[2] !== cond.shape[2]) {
        throw new ModelOutputError(`the engine's imageLogits returned ${uncond instanceof tf.Tensor ? `[${uncond.shape.join(', ')}]` : 'no tensor'}; expected [${cond.shape.join(', ')}]`);
      }
      return tf.concat([cond, uncond], 0) as tf.Tensor3D;
    } finally {
      cond.dispose();
      disposeOutput(uncond);
    }
  }

  /** The main thread's half: [B, N, V], or the requested columns. */
  private condLogits(block: Int32Array): tf.Tensor3D {
    const session = this.condSession!;
    const out = session.imageLogits(block);
    if (!(out instanceof tf.Tensor)) {
      void out.then((t) => t.dispose(), () => undefined);
      throw new ModelOutputError('withDualEngine: the wrapped model must answer image sessions synchronously');
    }
    const first = session.firstColumn ?? 0;
    if (!this.columns && first === 0) return out;
    try {
      const [b, l, v] = out.shape;
      const start = (this.columns?.start ?? 0) - first;
      const count = this.columns?.count ?? v;
      return tf.slice(out, [0, 0, start], [b, l, count]);
    } finally {
      out.dispose();
    }
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.condSession?.dispose();
    const engine = this.engine;
    if (!engine || !this.started) return;
    // The worker frees its half in order, after any call still queued. A failed (or disposed) engine refuses
    // calls: then its state is cleared outright (with one worker, that state is on this thread).
    engine.runPair('release', [{}, {}], this.options()).then(
      ([a, b]) => (disposeOutput(a), disposeOutput(b)),
      () => engine.resetState().catch(() => undefined),
    );
  }
}

/**
 * A model whose guided MaskGIT windows run their conditional rows on the main thread and their unconditional rows
 * in the engine's worker, at the same time. Everything else goes to the wrapped model: decoding, unguided windows,
 * windows whose prefix cannot be cached. See the module documentation above. Made by {@link withDualEngine}.
 */
export class DualCfgModel implements ImageLogitsModel, CachingSequenceModel {
  private readonly engineOptions: Record<string, unknown>;

  constructor(
    /** The wrapped model (showo-core's `ShowoModel`, whose weights the engine mirrors). */
    readonly inner: CachingSequenceModel & { readonly config?: unknown },
    private readonly engine: DualEngineSource,
    private readonly options: DualCfgOptions = {},
  ) {
    if (!isCachingModel(inner)) throw new InvalidArgumentError('withDualEngine: the model must offer prefill / forwardWithCache / emptyCache (a caching model such as ShowoModel)');
    this.engineOptions = options.engineOptions ?? (inner.config !== undefined ? { config: inner.config } : {});
  }

  /** The wrapped model's config (its position budget is the pipelines' default). */
  get config(): unknown {
    return this.inner.config;
  }

  forward(ids: tf.Tensor, allow: AllowMask, options?: { logits?: LogitsRange }): tf.Tensor3D {
    return this.inner.forward(ids, allow, options);
  }

  emptyCache(batch: number): CacheHandle {
    return this.inner.emptyCache(batch);
  }

  prefill(ids: tf.Tensor, allow: AllowMask): CacheHandle {
    return this.inner.prefill(ids, allow);
  }

  forwardWithCache(ids: tf.Tensor, allowRows: AllowMask, cache: CacheHandle, options: { append: boolean; logits?: LogitsRange }): tf.Tensor3D {
    return this.inner.forwardWithCache(ids, allowRows, cache, options);
  }

  openImageSession(input: ImageSessionInput): ImageLogitsSession {
    const mode = this.options.cache ?? 'auto';
    const split =
      mode === 'auto' && input.guided === true && input.rows >= 2 && input.rows % 2 === 0 && input.prefixLength > 0 && prefixIsCacheable(input.allow, input.prefixLength);
    if (!split) return openImageSession(this.inner, input, mode);
    const cb = this.options.codebookOnly === false ? undefined : input.codebook;
    return new DualCfgSession(this.inner, this.engine, input, this.engineOptions, cb ? { start: cb.offset, count: cb.size } : undefined);
  }
}

/**
 * Wraps a caching model (showo-core's `ShowoModel`) so that classifier-free guidance runs on two engines: the
 * conditional rows on the main thread, the unconditional rows in the worker of `engine` (made by showo-core's
 * `createShowoEngine(model, { workers: 2 })`, or a function making it on first use). With a one-worker engine
 * both halves run on the main thread, one after the other. The engine must mirror this model's weights; dispose
 * it before the model.
 */
export function withDualEngine(model: CachingSequenceModel & { readonly config?: unknown }, engine: DualEngineSource, options: DualCfgOptions = {}): DualCfgModel {
  return new DualCfgModel(model, engine, options);
}

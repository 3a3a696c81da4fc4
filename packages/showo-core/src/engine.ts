/**
 * The engine module of showo-core for `DualEngine` (`@showo/runtime`): MaskGIT against a prefix cache, one branch
 * of classifier-free guidance per engine. Loaded on the main thread (engine 0) and in the worker (engine 1); it
 * imports only what a worker thread can load (tfjs, `@showo/runtime`, files of this package).
 *
 * The weights are the engine's, by official name in the layout of `ShowoModel.namedVariables()` (what
 * `createShowoEngine` registers). Every function takes `options.config` (the {@link ShowoConfig}) and a
 * `session` key: each engine keeps one prefix cache per session in its own `ctx.state`, so concurrent sessions do
 * not disturb each other.
 *
 * - {@link prefill}: runs the prefix and keeps its KV cache and the mask rows of the image block;
 * - {@link imageLogits}: the logits of the image positions of a block against that cache, optionally only the
 *   codebook columns (every output crosses the thread boundary: return only what the caller reads);
 * - {@link release}: frees a session's cache (`DualEngine.resetState()` frees every session's);
 * - {@link forward}: a full forward pass, split over both engines when run with `DualEngine.runTensorParallel`
 *   (half of the heads and of the MLP each, `ShowoModel.forwardParallel`).
 *
 * The numbers are those of `ShowoModel.prefill` / `forwardWithCache` on the same rows: the code is the same.
 *
 * A call with no inputs does nothing and returns an empty record: `DualEngine.runPair` runs one function on both
 * engines, and a caller that computes the main thread's half itself (the sampler's `withDualEngine` does, so that
 * the main thread's cache is its own) sends an empty first half.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, type EngineContext, type NamedTensors } from '@showo/runtime';
import type { KVCache } from './cache.js';
import type { ShowoConfig } from './config.js';
import { ShowoModel, type LogitsSelection } from './model.js';
import { ShowoShard } from './parallel.js';
import { paramSpecs } from './weights.js';

/** Options every function of this module takes. */
export interface ShowoEngineCallOptions {
  /** The model's config (shapes are checked against the engine's weights). */
  config: ShowoConfig;
  /** Key of the session whose prefix cache is meant. */
  session: string;
}

/** Options of {@link imageLogits}. */
export interface ShowoImageLogitsOptions extends ShowoEngineCallOptions {
  /** First position of the block to return logits for (the first image token: 1, after `<|soi|>`). */
  start: number;
  /** Number of positions (N image tokens). */
  length: number;
  /** Vocabulary columns to return (default: all), e.g. the codebook: `{ start: imageOffset, count: K }`. */
  columns?: { start: number; count: number };
}

/**
 * A borrowed model over the engine's weights, valid while every weight tensor is the one it was built over. Kept
 * in `ctx.state` behind private fields: `resetState` disposes what it can reach in the state, and these tensors
 * belong to the engine, not to the view.
 */
class ModelView {
  readonly #model: ShowoModel;
  readonly #tensors: tf.Tensor[];
  readonly #names: string[];
  readonly #configKey: string;

  constructor(config: ShowoConfig, weights: Readonly<NamedTensors>, configKey: string) {
    this.#names = paramSpecs(config).map((s) => s.name);
    this.#model = ShowoModel.borrow(config, weights);
    this.#tensors = this.#names.map((n) => weights[n]!);
    this.#configKey = configKey;
  }

  get model(): ShowoModel {
    return this.#model;
  }

  fits(weights: Readonly<NamedTensors>, configKey: string): boolean {
    if (configKey !== this.#configKey) return false;
    for (let i = 0; i < this.#names.length; i++) if (weights[this.#names[i]!] !== this.#tensors[i]) return false;
    return true;
  }
}

const VIEW_KEY = 'showo-core.engine.model';
const sessionKey = (session: string): string => `showo-core.engine.prefix:${session}`;

/**
 * The model view of this engine, rebuilt when the weights were replaced (a cache remembers the model id that
 * filled it, so the view is kept between calls).
 */
function modelOf(ctx: EngineContext, config: ShowoConfig): ShowoModel {
  if (!config || typeof config !== 'object') throw new InvalidArgumentError('showo-core engine: options.config (the ShowoConfig) is required');
  const key = JSON.stringify(config);
  const cached = ctx.state.get(VIEW_KEY);
  if (cached instanceof ModelView && cached.fits(ctx.weights, key)) return cached.model;
  const view = new ModelView(config, ctx.weights, key);
  ctx.state.set(VIEW_KEY, view);
  return view.model;
}

/** What one session keeps on one engine (plain fields: `resetState` reaches and disposes the tensors). */
class PrefixEntry {
  constructor(
    readonly cache: KVCache,
    readonly blockAllow: tf.Tensor,
  ) {}

  dispose(): void {
    this.cache.dispose();
    this.blockAllow.dispose();
  }
}

const isEmpty = (inputs: NamedTensors | undefined): boolean => !inputs || Object.keys(inputs).length === 0;

function sessionOf(options: unknown): string {
  const s = (options as { session?: unknown } | undefined)?.session;
  if (typeof s !== 'string' || !s) throw new InvalidArgumentError('showo-core engine: options.session (a non-empty string) is required');
  return s;
}

/**
 * Runs the prefix `ids` int32 [B, P] with `allow` bool [B, P, P] and keeps its KV cache for the session, with
 * `blockAllow` bool [B, T, P+T] (the mask rows of the image block over the prefix and itself) for
 * {@link imageLogits}. Replaces (and frees) the session's previous cache. Returns nothing (an empty record).
 */
export function prefill(ctx: EngineContext, inputs: NamedTensors, options: unknown): NamedTensors {
  if (isEmpty(inputs)) return {};
  const o = options as ShowoEngineCallOptions;
  const session = sessionOf(o);
  const { ids, allow, blockAllow } = inputs;
  if (!ids || !allow || !blockAllow) throw new InvalidArgumentError('showo-core engine prefill: inputs ids, allow and blockAllow are required');
  const model = modelOf(ctx, o.config);
  releaseKey(ctx, sessionKey(session));
  const cache = model.prefill(ids, allow);
  // The call runs inside tf.tidy: keep what outlives it.
  for (const l of cache.layers(model.id, cache.batch) ?? []) {
    tf.keep(l.k);
    tf.keep(l.v);
  }
  ctx.state.set(sessionKey(session), new PrefixEntry(cache, tf.keep(blockAllow.clone())));
  return {};
}

/**
 * Logits [B, length, V] (or [B, length, columns.count]) of positions `start … start+length−1` of `block` int32
 * [B, T] against the session's prefix cache, which stays unchanged (an empty record for an empty call).
 */
export function imageLogits(ctx: EngineContext, inputs: NamedTensors, options: unknown): tf.Tensor3D | NamedTensors {
  if (isEmpty(inputs)) return {};
  const o = options as ShowoImageLogitsOptions;
  const session = sessionOf(o);
  const entry = ctx.state.get(sessionKey(session));
  if (!(entry instanceof PrefixEntry)) {
    throw new InvalidArgumentError(`showo-core engine imageLogits: no prefix cache for session "${session}" on engine ${ctx.engineIndex} (call prefill first)`);
  }
  const model = modelOf(ctx, o.config);
  const out = model.forwardWithCache(inputs.block, entry.blockAllow, entry.cache, { append: false, logits: { start: o.start, length: o.length } });
  if (!o.columns) return out;
  const [b, l, v] = out.shape;
  const { start, count } = o.columns;
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 1 || start + count > v) {
    throw new InvalidArgumentError(`showo-core engine imageLogits: columns {start: ${start}, count: ${count}} are outside the ${v} vocabulary columns`);
  }
  return tf.slice(out, [0, 0, start], [b, l, count]);
}

/** Options of {@link forward}. */
export interface ShowoForwardOptions {
  config: ShowoConfig;
  /** Positions to return logits for (default all). */
  logits?: LogitsSelection;
  /**
   * Bump it after assigning new values to the weights in place: a tensor-parallel share is a copy of them, rebuilt
   * when the weight tensors or this number change.
   */
  weightsVersion?: number;
}

/**
 * This engine's share of the weights (copies, so `resetState` may free them), rebuilt when the weights change. The
 * weight tensors it was cut from are kept behind a private field: they belong to the engine.
 */
class ShardEntry {
  readonly shard: ShowoShard;
  readonly #sources: tf.Tensor[];
  readonly #key: string;

  constructor(shard: ShowoShard, sources: tf.Tensor[], key: string) {
    this.shard = shard;
    this.#sources = sources;
    this.#key = key;
  }

  fits(sources: tf.Tensor[], key: string): boolean {
    return key === this.#key && sources.length === this.#sources.length && sources.every((t, i) => t === this.#sources[i]);
  }
}

const SHARD_KEY = 'showo-core.engine.shard';

/**
 * Logits of `ids` int32 [B, L] under `allow` bool [B, L, L] (`ShowoModel.forward`). Under
 * `DualEngine.runTensorParallel` each engine computes half of every layer and the main thread returns the logits;
 * run alone (or with `run`), it is the whole forward.
 */
export function forward(ctx: EngineContext, inputs: NamedTensors, options: unknown): tf.Tensor3D | NamedTensors {
  const o = options as ShowoForwardOptions;
  const { ids, allow } = inputs;
  if (!ids || !allow) throw new InvalidArgumentError('showo-core engine forward: inputs ids and allow are required');
  const model = modelOf(ctx, o.config);
  const share = ctx.parallel;
  if (!share || share.size === 1) return model.forward(ids, allow, { logits: o.logits });
  const sources = paramSpecs(o.config).map((s) => ctx.weights[s.name]!);
  const key = `${JSON.stringify(o.config)}#${o.weightsVersion ?? 0}#${share.rank}`;
  let entry = ctx.state.get(SHARD_KEY);
  if (!(entry instanceof ShardEntry) || !entry.fits(sources, key)) {
    if (entry instanceof ShardEntry) entry.shard.dispose();
    // The share's tensors are kept (tf.keep), so they outlive the call's tidy.
    entry = new ShardEntry(model.shard(share.rank), sources, key);
    ctx.state.set(SHARD_KEY, entry);
  }
  return model.forwardParallel(ids, allow, (entry as ShardEntry).shard, share, { logits: o.logits }) ?? {};
}

/** Frees the session's prefix cache (nothing when it has none). Returns nothing. */
export function release(ctx: EngineContext, _inputs: NamedTensors, options: unknown): NamedTensors {
  releaseKey(ctx, sessionKey(sessionOf(options)));
  return {};
}

function releaseKey(ctx: EngineContext, key: string): void {
  const old = ctx.state.get(key);
  if (old instanceof PrefixEntry) old.dispose();
  ctx.state.delete(key);
}

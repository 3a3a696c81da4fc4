/**
 * Sessions: how the pipelines ask a transformer for logits, step after step, with or without caches. The
 * pipelines see only {@link ImageLogitsSession} (MaskGIT) and {@link TextLogitsSession} (decoding); adapters here
 * build them from a {@link SequenceLogitsModel} (full recomputation, exactly what the official code does) or a
 * {@link CachingSequenceModel} (prefix cache / KV cache: the same numbers up to float rounding, far less work).
 */
import * as tf from '@tensorflow/tfjs';
import { appendRows, extendMask, selectBatch, sliceMask, type AllowMask } from '@showo/omni-attention';
import { ModelOutputError } from './errors.js';
import type { CacheHandle, CachingSequenceModel, SequenceLogitsModel } from './types.js';

/** Whether to use the model's caches: `auto` uses them when the model has them and they are exact for the mask. */
export type CacheMode = 'auto' | 'none';

/** What a MaskGIT session is opened with. */
export interface ImageSessionInput {
  /** Ids before `<|soi|>` [rows, prefixLength], row-major (for CFG: cond rows, then uncond rows). */
  prefixIds: Int32Array;
  rows: number;
  prefixLength: number;
  /** Image tokens N; the block is `<|soi|>`, N tokens, `<|eoi|>`. */
  numImageTokens: number;
  /** Mask of the whole sequence [rows, L, L], L = prefixLength + N + 2. */
  allow: AllowMask;
  /**
   * True when the rows are B conditional rows followed by their B unconditional twins (classifier-free guidance,
   * rows = 2B): a session may then run the two halves apart (e.g. on two engines, {@link DualCfgModel}).
   */
  guided?: boolean;
  /**
   * The vocabulary columns the caller reads: the codebook, ids `offset … offset+size−1`. A session may return
   * only these columns (see {@link ImageLogitsSession.firstColumn}).
   */
  codebook?: { offset: number; size: number };
}

/**
 * Logits of the image positions for the current image block. {@link imageLogits} must not leave tensors behind
 * other than the one it returns (wrap its work in `tf.tidy`; keep caches in the session and free them in
 * {@link dispose}). It may answer asynchronously (e.g. when part of the work runs in a worker thread): the
 * pipeline awaits it before the next step, and disposes the session only between calls.
 */
export interface ImageLogitsSession {
  /** Whether a prefix cache is used. */
  readonly cached: boolean;
  /**
   * Vocabulary id of column 0 of the logits {@link imageLogits} returns: 0 (the default) when they span the whole
   * vocabulary, `input.codebook.offset` when the session returns the codebook columns only.
   */
  readonly firstColumn?: number;
  /**
   * `block` [rows, N+2] (`<|soi|>`, image ids, `<|eoi|>`) → logits [rows, N, V] at the N image positions (or
   * [rows, N, K], see {@link firstColumn}), owned by the caller.
   */
  imageLogits(block: Int32Array): tf.Tensor3D | Promise<tf.Tensor3D>;
  dispose(): void;
}

/** What a decoding session is opened with. */
export interface TextSessionInput {
  /** Prompt ids [rows, length], row-major (rows of different length are left-padded by the caller). */
  ids: Int32Array;
  rows: number;
  length: number;
  /** Prompt mask [rows, length, length]. */
  allow: AllowMask;
}

/** Last-position logits, one token at a time. */
export interface TextLogitsSession {
  readonly cached: boolean;
  /** Logits [rows, V] of the prompt's last position. Call once, first. */
  start(): tf.Tensor2D;
  /** Appends one token per row and returns the logits [rows, V] of that new position. */
  append(tokens: Int32Array): tf.Tensor2D;
  /**
   * Optional: row `j` continues from what row `rows[j]` held so far (rows may repeat; the batch size is kept).
   * Beam search needs it; the sessions made here have it when their cache can select rows.
   */
  reorder?(rows: readonly number[]): void;
  dispose(): void;
}

/** A model that opens its own sessions (e.g. a remote model, or a custom caching scheme). */
export interface ImageLogitsModel {
  openImageSession(input: ImageSessionInput): ImageLogitsSession;
}

/** A model that opens its own decoding sessions. */
export interface TextLogitsModel {
  openTextSession(input: TextSessionInput): TextLogitsSession;
}

/** Anything a MaskGIT pipeline accepts as its model. */
export type ImageModel = SequenceLogitsModel | ImageLogitsModel;
/** Anything a decoding pipeline accepts as its model. */
export type TextModel = SequenceLogitsModel | TextLogitsModel;

/** Whether the model offers `emptyCache` / `prefill` / `forwardWithCache`. */
export function isCachingModel(model: unknown): model is CachingSequenceModel {
  const m = model as Partial<CachingSequenceModel>;
  return typeof m?.prefill === 'function' && typeof m.forwardWithCache === 'function' && typeof m.emptyCache === 'function';
}

/** Whether no row of `allow` among the first `p` queries sees a key at or after `p` (then a prefix cache is exact). */
export function prefixIsCacheable(allow: AllowMask, p: number): boolean {
  for (let b = 0; b < allow.batch; b++) {
    for (let i = 0; i < p; i++) {
      const row = (b * allow.queries + i) * allow.keys;
      for (let j = p; j < allow.keys; j++) if (allow.data[row + j]) return false;
    }
  }
  return true;
}

/** Takes positions [start, start+length) of logits that may hold every position or exactly the requested ones. */
function selectPositions(out: tf.Tensor3D, total: number, start: number, length: number): tf.Tensor3D {
  const [b, l, v] = out.shape;
  if (l === length) return out;
  if (l === total) return tf.slice(out, [0, start, 0], [b, length, v]);
  throw new ModelOutputError(`the model returned logits for ${l} positions; expected ${total} (all) or ${length} (the requested range)`);
}

class RecomputeImageSession implements ImageLogitsSession {
  readonly cached = false;
  constructor(
    private readonly model: SequenceLogitsModel,
    private readonly input: ImageSessionInput,
  ) {}

  imageLogits(block: Int32Array): tf.Tensor3D {
    const { rows, prefixLength: p, numImageTokens: n, prefixIds, allow } = this.input;
    const blockLen = n + 2;
    const l = p + blockLen;
    const ids = new Int32Array(rows * l);
    for (let r = 0; r < rows; r++) {
      ids.set(prefixIds.subarray(r * p, (r + 1) * p), r * l);
      ids.set(block.subarray(r * blockLen, (r + 1) * blockLen), r * l + p);
    }
    return tf.tidy(() => {
      const out = this.model.forward(tf.tensor2d(ids, [rows, l], 'int32'), allow, { logits: { start: p + 1, length: n } });
      return selectPositions(out, l, p + 1, n);
    });
  }

  dispose(): void {}
}

class PrefixCachedImageSession implements ImageLogitsSession {
  readonly cached = true;
  private readonly cache: CacheHandle;
  private readonly blockRows: AllowMask;

  constructor(
    private readonly model: CachingSequenceModel,
    private readonly input: ImageSessionInput,
  ) {
    const { rows, prefixLength: p, prefixIds, allow } = input;
    this.blockRows = sliceMask(allow, { queries: [p, allow.queries] });
    const prefixAllow = sliceMask(allow, { queries: [0, p], keys: [0, p] });
    const ids = tf.tensor2d(prefixIds, [rows, p], 'int32');
    try {
      this.cache = model.prefill(ids, prefixAllow);
    } finally {
      ids.dispose();
    }
  }

  imageLogits(block: Int32Array): tf.Tensor3D {
    const { rows, numImageTokens: n } = this.input;
    return tf.tidy(() => {
      const ids = tf.tensor2d(block, [rows, n + 2], 'int32');
      const out = this.model.forwardWithCache(ids, this.blockRows, this.cache, { append: false, logits: { start: 1, length: n } });
      return selectPositions(out, n + 2, 1, n);
    });
  }

  dispose(): void {
    this.cache.dispose();
  }
}

/**
 * Opens a MaskGIT session on a model: its own `openImageSession` if it has one; else a prefix cache when the model
 * can cache, `cache` is `auto` and the prefix rows of the mask see nothing after the prefix (true for every
 * Show-o t2i mask); else full recomputation of the sequence at every step (the official behaviour).
 */
export function openImageSession(model: ImageModel, input: ImageSessionInput, cache: CacheMode = 'auto'): ImageLogitsSession {
  if ('openImageSession' in model && typeof model.openImageSession === 'function') return model.openImageSession(input);
  const m = model as SequenceLogitsModel;
  if (cache === 'auto' && isCachingModel(m) && input.prefixLength > 0 && prefixIsCacheable(input.allow, input.prefixLength)) {
    return new PrefixCachedImageSession(m, input);
  }
  return new RecomputeImageSession(m, input);
}

/** Logits [B, V] of the last position from logits that hold all positions or only the last. */
function lastPosition(out: tf.Tensor3D): tf.Tensor2D {
  const [b, l, v] = out.shape;
  if (l === 1) return tf.reshape(out, [b, v]); // already the last position (`logits: 'last'`): no copy
  return tf.reshape(tf.slice(out, [0, l - 1, 0], [b, 1, v]), [b, v]);
}

const NEW_TOKEN = [{ kind: 'text' as const, length: 1 }];

/**
 * The official decoding loop: the whole sequence is recomputed for every token, and the mask grows as
 * `mmu_generate` grows it (old rows blind to the new column; the new row is the old last row plus itself).
 */
class RecomputeTextSession implements TextLogitsSession {
  readonly cached = false;
  private ids: Int32Array;
  private length: number;
  private allow: AllowMask;
  private started = false;

  constructor(
    private readonly model: SequenceLogitsModel,
    input: TextSessionInput,
  ) {
    this.ids = input.ids.slice();
    this.length = input.length;
    this.allow = input.allow;
  }

  private run(): tf.Tensor2D {
    const rows = this.allow.batch;
    return tf.tidy(() => lastPosition(this.model.forward(tf.tensor2d(this.ids, [rows, this.length], 'int32'), this.allow, { logits: 'last' })));
  }

  start(): tf.Tensor2D {
    this.started = true;
    return this.run();
  }

  append(tokens: Int32Array): tf.Tensor2D {
    if (!this.started) throw new ModelOutputError('TextLogitsSession.append before start');
    const rows = this.allow.batch;
    const l = this.length;
    const ids = new Int32Array(rows * (l + 1));
    for (let r = 0; r < rows; r++) {
      ids.set(this.ids.subarray(r * l, (r + 1) * l), r * (l + 1));
      ids[r * (l + 1) + l] = tokens[r];
    }
    this.ids = ids;
    this.length = l + 1;
    this.allow = extendMask(this.allow, NEW_TOKEN);
    return this.run();
  }

  reorder(rows: readonly number[]): void {
    checkReorder(rows, this.allow.batch);
    const l = this.length;
    const ids = new Int32Array(rows.length * l);
    rows.forEach((r, j) => ids.set(this.ids.subarray(r * l, (r + 1) * l), j * l));
    this.ids = ids;
    this.allow = selectBatch(this.allow, rows);
  }

  dispose(): void {}
}

/** KV-cache decoding: the prompt once, then one position per token. */
class KvTextSession implements TextLogitsSession {
  readonly cached = true;
  private readonly cache: CacheHandle;
  /** The mask row of the last position over all keys so far [rows, 1, P]. */
  private lastRows: AllowMask;
  private started = false;

  constructor(
    private readonly model: CachingSequenceModel,
    private readonly input: TextSessionInput,
  ) {
    this.cache = model.emptyCache(input.rows);
    this.lastRows = sliceMask(input.allow, { queries: [input.length - 1, input.length] });
  }

  /**
   * Runs new positions and grows the cache. Not inside `tf.tidy`: the cache's new keys/values are created during
   * the call and an enclosing tidy would free them.
   */
  private run(ids: Int32Array, length: number, allow: AllowMask): tf.Tensor2D {
    const t = tf.tensor2d(ids, [this.input.rows, length], 'int32');
    let out: tf.Tensor3D;
    try {
      out = this.model.forwardWithCache(t, allow, this.cache, { append: true, logits: 'last' });
    } finally {
      t.dispose();
    }
    try {
      return tf.tidy(() => lastPosition(out));
    } finally {
      out.dispose();
    }
  }

  start(): tf.Tensor2D {
    this.started = true;
    return this.run(this.input.ids, this.input.length, this.input.allow);
  }

  append(tokens: Int32Array): tf.Tensor2D {
    if (!this.started) throw new ModelOutputError('TextLogitsSession.append before start');
    const rows = appendRows(this.lastRows, NEW_TOKEN, { contextRow: 0 });
    this.lastRows = rows;
    return this.run(tokens, 1, rows);
  }

  get reorder(): ((rows: readonly number[]) => void) | undefined {
    const cache = this.cache;
    if (typeof cache.selectRows !== 'function') return undefined;
    return (rows) => {
      checkReorder(rows, this.input.rows);
      cache.selectRows!(rows);
      this.lastRows = selectBatch(this.lastRows, rows);
    };
  }

  dispose(): void {
    this.cache.dispose();
  }
}

function checkReorder(rows: readonly number[], batch: number): void {
  if (rows.length !== batch) throw new ModelOutputError(`reorder needs ${batch} row indices (the session's rows), got ${rows.length}`);
}

/** Opens a decoding session: the model's own, a KV cache (`auto`, when the model can cache), or recomputation. */
export function openTextSession(model: TextModel, input: TextSessionInput, cache: CacheMode = 'auto'): TextLogitsSession {
  if ('openTextSession' in model && typeof model.openTextSession === 'function') return model.openTextSession(input);
  const m = model as SequenceLogitsModel;
  if (cache === 'auto' && isCachingModel(m)) return new KvTextSession(m, input);
  return new RecomputeTextSession(m, input);
}

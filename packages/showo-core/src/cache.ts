import * as tf from '@tensorflow/tfjs';
import type { LayerKV } from './block.js';
import { CacheMismatchError } from './errors.js';

/**
 * Keys and values of already-processed positions, per layer, for B batch rows: what lets a caller run only the
 * new positions of a sequence.
 *
 * - **KV cache** (autoregressive decoding): `model.forwardWithCache(newIds, rows, cache, { append: true })`
 *   appends the new positions, so the cache grows by T per call.
 * - **Prefix cache** (MaskGIT): `model.prefill(prefixIds, prefixAllow)` once per prompt, then every step calls
 *   `forwardWithCache(imageBlock, rows, cache, { append: false })`, which attends to the prefix without
 *   extending it. For classifier-free guidance the cache simply holds 2B rows (cond rows, then uncond rows).
 *
 * A cache owns its tensors: call {@link dispose} when done (the model never disposes a cache it was given).
 * Positions continue from {@link length}: the next token is at position `length`, as in the full sequence.
 */
export class KVCache {
  /** Batch rows the cache was built for; every call with it must use the same number of rows. */
  readonly batch: number;
  /** Identity of the model that filled it (a cache cannot move between models). */
  readonly ownerId: number;
  private kv: LayerKV[] | undefined;
  private len = 0;
  private isDisposed = false;
  /**
   * @internal Per row, how many image tokens (codes or [MASK]) end the cached positions in a run: where the next
   * image token sits in its grid (models with `image_position_embedding`).
   */
  imageRuns: number[];

  /** @internal Made by `ShowoModel.emptyCache` / `prefill`. */
  constructor(ownerId: number, batch: number) {
    this.ownerId = ownerId;
    this.batch = batch;
    this.imageRuns = new Array<number>(batch).fill(0);
  }

  /** Cached positions P (the position id of the next token). */
  get length(): number {
    return this.len;
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Bytes of tensor memory the cache holds. */
  get byteSize(): number {
    return (this.kv ?? []).reduce((s, l) => s + 4 * (l.k.size + l.v.size), 0);
  }

  /** Frees every tensor of the cache. Idempotent. */
  dispose(): void {
    if (this.kv) for (const l of this.kv) tf.dispose([l.k, l.v]);
    this.kv = undefined;
    this.len = 0;
    this.imageRuns.fill(0);
    this.isDisposed = true;
  }

  /**
   * Rebuilds the cache from its own rows: row `j` becomes what row `rows[j]` held (rows may repeat; the batch size
   * is unchanged). Beam search uses it to follow the beams it keeps from one token to the next.
   */
  selectRows(rows: readonly number[]): void {
    if (this.isDisposed) throw new CacheMismatchError('the KV cache was disposed');
    if (rows.length !== this.batch) throw new CacheMismatchError(`selectRows needs ${this.batch} row indices (the cache's batch), got ${rows.length}`);
    for (const r of rows) {
      if (!Number.isInteger(r) || r < 0 || r >= this.batch) throw new CacheMismatchError(`row index ${r} is outside 0..${this.batch - 1}`);
    }
    const runs = this.imageRuns;
    this.imageRuns = rows.map((r) => runs[r]!);
    if (!this.kv || rows.every((r, j) => r === j)) return;
    const index = tf.tensor1d(Int32Array.from(rows), 'int32');
    try {
      const kv = this.kv.map((l) => ({ k: tf.gather(l.k, index, 0), v: tf.gather(l.v, index, 0) }));
      this.replace(kv, this.len);
    } finally {
      index.dispose();
    }
  }

  /** @internal Per-layer keys/values ([B, P, H] each), or undefined while empty. */
  layers(ownerId: number, batch: number): LayerKV[] | undefined {
    if (this.isDisposed) throw new CacheMismatchError('the KV cache was disposed');
    if (ownerId !== this.ownerId) throw new CacheMismatchError('the KV cache belongs to another model');
    if (batch !== this.batch) throw new CacheMismatchError(`the KV cache holds ${this.batch} batch rows, the input has ${batch}`);
    return this.kv;
  }

  /** @internal Replaces the contents (takes ownership of `kv`, disposes the previous tensors). */
  replace(kv: LayerKV[], length: number): void {
    const old = this.kv;
    this.kv = kv;
    this.len = length;
    if (old) for (const l of old) tf.dispose([l.k, l.v]);
  }
}

import type * as tf from '@tensorflow/tfjs';
import type { AllowMask } from '@showo/omni-attention';

/**
 * Which positions a model computes logits for (the `logits` option of showo-core's `forward`): every input
 * position, the last one, or a contiguous range. A transformer that ignores the option and returns logits for
 * every position works too: the sampler slices.
 */
export type LogitsRange = 'all' | 'last' | { start: number; length: number };

/**
 * The one thing the sampler needs from a transformer: ids and an allow-mask in, logits out. `ShowoModel` of
 * `@showo/showo-core` satisfies it, and so can a user's own network.
 *
 * - `ids` int32 [B, L]; `allow` [B, L, L] (1 = query may attend key);
 * - returns logits [B, L', V] (L' = L, or the positions of `options.logits` if the model supports it). The sampler
 *   owns the returned tensor and disposes it.
 */
export interface SequenceLogitsModel {
  forward(ids: tf.Tensor, allow: AllowMask, options?: { logits?: LogitsRange }): tf.Tensor3D;
}

/** A cache of processed positions (showo-core's `KVCache`). */
export interface CacheHandle {
  readonly length: number;
  dispose(): void;
  /**
   * Optional: row `j` of the cache becomes what row `rows[j]` held (same batch size). Needed for beam search on
   * a KV cache; showo-core's `KVCache` has it.
   */
  selectRows?(rows: readonly number[]): void;
}

/**
 * A transformer that can also run new positions against cached keys/values (showo-core's `ShowoModel`). With it
 * the sampler uses a prefix cache for MaskGIT (the text prefix once per prompt, then only the image block per
 * step) and a KV cache for autoregressive decoding.
 */
export interface CachingSequenceModel<C extends CacheHandle = CacheHandle> extends SequenceLogitsModel {
  /** An empty cache for `batch` rows. */
  emptyCache(batch: number): C;
  /** Runs a prefix ids [B, P] / allow [B, P, P] and returns its cache (no logits). */
  prefill(ids: tf.Tensor, allow: AllowMask): C;
  /**
   * New positions ids [B, T] with mask rows [B, T, P+T] against the cache; `append` grows the cache by T
   * (decoding) or leaves it unchanged (MaskGIT steps). Returns logits [B, T', V].
   */
  forwardWithCache(ids: tf.Tensor, allowRows: AllowMask, cache: C, options: { append: boolean; logits?: LogitsRange }): tf.Tensor3D;
}

/** An 8-bit RGB image, row-major, 3 bytes per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  /** `height·width·3` bytes. */
  data: Uint8Array | Uint8ClampedArray;
}

/**
 * A pixel mask for inpainting: `height·width` values, non-zero = "regenerate this pixel" (a single-channel image,
 * e.g. white-on-black, works directly).
 */
export interface PixelMask {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

/** The token grid of an image: `height·width` image tokens, row-major. */
export interface TokenGrid {
  height: number;
  width: number;
}

/**
 * Images ↔ codes (the MAGVIT tokenizer, or any VQ tokenizer). Used to encode input images (inpainting, editing,
 * extrapolation) and to decode previews and results. The decoder must accept any grid size, because an
 * extrapolated image is larger than the model's grid (MAGVIT's decoder is convolutional, so it does).
 */
export interface ImageCodec {
  /** Pixels per token along each side (MAGVIT-v2: 16). */
  readonly patchSize: number;
  /** Codes [h·w] (row-major) of each image. */
  encode(images: readonly RgbImage[]): Int32Array[] | Promise<Int32Array[]>;
  /** Images of codes laid out on `grid`. */
  decode(codes: readonly Int32Array[], grid: TokenGrid): RgbImage[] | Promise<RgbImage[]>;
}

/** A tiny random Show-o (fast) plus a wrapper that counts (and can fail) model calls, for the pipeline tests. */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import { UniversalPrompting } from '@showo/prompting';
import type { AllowMask } from '@showo/omni-attention';
import { ShowoModel, tokenLayoutFor, type KVCache, type ShowoConfig } from '@showo/showo-core';
import type { CachingSequenceModel, ImageCodec, LogitsRange, RgbImage, TokenGrid } from '@showo/sampler';

export const TINY: ShowoConfig = {
  vocab_size: 50 + 10 + 16 + 1,
  llm_vocab_size: 50,
  num_new_special_tokens: 10,
  codebook_size: 16,
  num_vq_tokens: 16,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  partial_rotary_factor: 0.5,
  qk_layernorm: true,
  layer_norm_eps: 1e-5,
  rope_theta: 10000,
  max_position_embeddings: 64,
  max_seq_length: 8,
};
export const BOS = 49;

let ready: Promise<unknown> | undefined;
export function backend(): Promise<unknown> {
  ready ??= initBackend(process.env.SHOWO_BACKEND ?? 'wasm');
  return ready;
}

/** Counts forward calls; throws on call number `failAt` (1-based) when set. */
export class CountingModel implements CachingSequenceModel<KVCache> {
  calls = 0;
  failAt: number | undefined;
  constructor(readonly inner: ShowoModel) {}
  get config() {
    return this.inner.config;
  }
  private tick(): void {
    this.calls++;
    if (this.failAt !== undefined && this.calls >= this.failAt) throw new Error(`model failure at call ${this.calls}`);
  }
  forward(ids: tf.Tensor, allow: AllowMask, options?: { logits?: LogitsRange }): tf.Tensor3D {
    this.tick();
    return this.inner.forward(ids, allow, options);
  }
  emptyCache(batch: number): KVCache {
    return this.inner.emptyCache(batch);
  }
  prefill(ids: tf.Tensor, allow: AllowMask): KVCache {
    this.tick();
    return this.inner.prefill(ids, allow);
  }
  forwardWithCache(ids: tf.Tensor, rows: AllowMask, cache: KVCache, options: { append: boolean; logits?: LogitsRange }): tf.Tensor3D {
    this.tick();
    return this.inner.forwardWithCache(ids, rows, cache, options);
  }
}

/** A toy codec: one code per 2×2 patch, code = red channel / 16; decoding paints the patch with code·16. */
export const toyCodec: ImageCodec = {
  patchSize: 2,
  encode(images: readonly RgbImage[]) {
    return images.map((img) => {
      const gw = img.width / 2;
      const gh = img.height / 2;
      return Int32Array.from({ length: gw * gh }, (_, t) => Math.floor(img.data[((Math.floor(t / gw) * 2) * img.width + (t % gw) * 2) * 3]! / 16));
    });
  },
  decode(codes: readonly Int32Array[], grid: TokenGrid) {
    return codes.map((c) => {
      const w = grid.width * 2;
      const h = grid.height * 2;
      const data = new Uint8ClampedArray(w * h * 3);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.fill(c[Math.floor(y / 2) * grid.width + Math.floor(x / 2)]! * 16, (y * w + x) * 3, (y * w + x) * 3 + 3);
      return { width: w, height: h, data };
    });
  },
};

export async function tinySetup(seed = 1) {
  await backend();
  const inner = ShowoModel.random(TINY, seed);
  const model = new CountingModel(inner);
  const layout = tokenLayoutFor(TINY, { bosId: BOS });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: 8, numVqTokens: 16 });
  return { inner, model, layout, prompting, dispose: () => inner.dispose() };
}

/** Resolves after `n` macrotasks (lets a cancelled generation reach its next check). */
export async function ticks(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

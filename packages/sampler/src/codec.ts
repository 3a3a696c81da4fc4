import * as tf from '@tensorflow/tfjs';
import type { ImageCodec, RgbImage, TokenGrid } from './types.js';

/**
 * The part of `@showo/tokenizer-magvit`'s `MagvitTokenizer` the codec adapter uses (structural, so any tokenizer
 * with these methods fits): images [B, H, W, 3] in [−1, 1] ↔ codes [B, h·w].
 */
export interface MagvitLike {
  readonly downsampleFactor: number;
  encodeToCodes(images: tf.Tensor4D): tf.Tensor2D;
  decodeCodes(codes: { data: ArrayLike<number>; batch: number }, shape?: readonly [number, number]): tf.Tensor4D;
  /** Used instead of `decodeCodes` when present: decoding that reads the device only asynchronously. */
  decodeCodesAsync?(codes: { data: ArrayLike<number>; batch: number }, shape?: readonly [number, number]): Promise<tf.Tensor4D>;
}

/** 8-bit RGB → [−1, 1], the range the official `image_transform` produces. */
export function imagesToTensor(images: readonly RgbImage[]): tf.Tensor4D {
  const { width: w, height: h } = images[0]!;
  const data = new Float32Array(images.length * h * w * 3);
  images.forEach((img, b) => {
    for (let i = 0; i < h * w * 3; i++) data[b * h * w * 3 + i] = img.data[i]! / 127.5 - 1;
  });
  return tf.tensor4d(data, [images.length, h, w, 3]);
}

/** [B, H, W, 3] in [−1, 1] (clamped, as inference_t2i.py clamps) → 8-bit RGB images. */
export function tensorToImages(t: tf.Tensor4D): RgbImage[] {
  return hostToImages(t.shape, t.dataSync());
}

/** {@link tensorToImages} with an asynchronous read (backends without synchronous reads: WebGPU). */
export async function tensorToImagesAsync(t: tf.Tensor4D): Promise<RgbImage[]> {
  return hostToImages(t.shape, await t.data());
}

function hostToImages([b, h, w]: readonly number[], values: ArrayLike<number>): RgbImage[] {
  return Array.from({ length: b }, (_, k) => {
    const data = new Uint8ClampedArray(h * w * 3);
    for (let i = 0; i < data.length; i++) {
      const v = Math.min(1, Math.max(-1, values[k * h * w * 3 + i]!));
      data[i] = Math.round((v + 1) * 127.5);
    }
    return { width: w, height: h, data };
  });
}

/** An {@link ImageCodec} over a MAGVIT tokenizer. Every tensor it makes is freed before it returns. */
export function magvitCodec(tokenizer: MagvitLike): ImageCodec {
  return {
    get patchSize() {
      return tokenizer.downsampleFactor;
    },
    async encode(images) {
      const x = imagesToTensor(images);
      try {
        const codes = tokenizer.encodeToCodes(x);
        try {
          const flat = (await codes.data()) as Int32Array;
          const n = codes.shape[1];
          return images.map((_, b) => Int32Array.from(flat.subarray(b * n, (b + 1) * n)));
        } finally {
          codes.dispose();
        }
      } finally {
        x.dispose();
      }
    },
    async decode(codes, grid: TokenGrid) {
      const n = grid.height * grid.width;
      const data = new Int32Array(codes.length * n);
      codes.forEach((c, b) => data.set(c, b * n));
      const shape = [grid.height, grid.width] as const;
      const images = tokenizer.decodeCodesAsync
        ? await tokenizer.decodeCodesAsync({ data, batch: codes.length }, shape)
        : tokenizer.decodeCodes({ data, batch: codes.length }, shape);
      try {
        return await tensorToImagesAsync(images);
      } finally {
        images.dispose();
      }
    },
  };
}

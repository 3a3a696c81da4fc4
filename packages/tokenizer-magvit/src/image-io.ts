/**
 * Image files in and out of the tokenizer: PNG (pngjs) and JPEG (jpeg-js) decoding, Show-o's `image_transform`
 * preprocessing, and pixels ↔ tensors in [−1, 1].
 *
 * Preprocessing mirrors Show-o's `image_transform`: resize so the shorter side equals the resolution (torchvision
 * `Resize(resolution, BICUBIC)` on a PIL image), centre crop to resolution × resolution, scale to [0, 1], normalise
 * with mean 0.5 and std 0.5 → [−1, 1]. The resampler follows PIL's separable, antialiased filters (horizontal
 * pass, then vertical, each rounded to 8 bits); it computes in floating point where PIL uses fixed point, so a
 * pixel may differ from PIL by one level. 'bicubic' (default, as official), 'bilinear' and 'area' (PIL's BOX) are
 * offered; for the large downscales of photos all three are antialiased, so they differ only in sharpness.
 */
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { CorruptImageError, ImageShapeError, UnsupportedImageError } from './errors.js';
import type { CodesInput } from './lfq.js';
import type { MagvitTokenizer } from './model.js';

const { PNG } = pngjs;

/** An 8-bit RGB image, pixels row-major, 3 bytes each. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Resampling filter used when resizing. */
export type ResampleFilter = 'bicubic' | 'bilinear' | 'area';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** 'png', 'jpeg', or undefined, from the first bytes (file extensions are not trusted). */
export function sniffImageFormat(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

function rgbaToRgb(rgba: Uint8Array, width: number, height: number): Uint8Array {
  // Alpha is dropped, not composited: PIL's convert('RGB') (what Show-o's loaders call) does the same.
  const out = new Uint8Array(width * height * 3);
  for (let p = 0, q = 0; p < width * height; p++, q += 4) {
    out[3 * p] = rgba[q];
    out[3 * p + 1] = rgba[q + 1];
    out[3 * p + 2] = rgba[q + 2];
  }
  return out;
}

/**
 * Decodes PNG or JPEG bytes to RGB. `name` (usually the file path) appears in errors: an
 * {@link UnsupportedImageError} for other formats, a {@link CorruptImageError} for undecodable data.
 */
export function decodeImage(bytes: Uint8Array, name = '<buffer>'): RgbImage {
  const format = sniffImageFormat(bytes);
  if (!format) throw new UnsupportedImageError(name, 'not a PNG or JPEG file (unrecognised signature)');
  try {
    if (format === 'png') {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, data: rgbaToRgb(png.data, png.width, png.height) };
    }
    // Strict decoding: a truncated JPEG is an error rather than a silently grey bottom half.
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, tolerantDecoding: false, maxMemoryUsageInMB: 1024 });
    if (!img.width || !img.height || img.data.length < img.width * img.height * 4) throw new Error('decoder returned no pixels');
    return { width: img.width, height: img.height, data: rgbaToRgb(img.data, img.width, img.height) };
  } catch (e) {
    throw new CorruptImageError(name, `cannot decode ${format.toUpperCase()} data (${(e as Error).message})`, { cause: e });
  }
}

/** Reads and decodes an image file (see {@link decodeImage}). */
export async function readImage(file: string): Promise<RgbImage> {
  return decodeImage(await fs.promises.readFile(file), file);
}

/** Encodes RGB pixels as an 8-bit PNG. */
export function encodePng(img: RgbImage): Uint8Array {
  checkRgb(img, 'image');
  const png = new PNG({ width: img.width, height: img.height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}

/** Writes an RGB image as PNG. */
export async function writePng(file: string, img: RgbImage): Promise<void> {
  await fs.promises.writeFile(file, encodePng(img));
}

function checkRgb(img: RgbImage, what: string): void {
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 1 || img.height < 1) {
    throw new ImageShapeError(`${what}: invalid size ${img.width}×${img.height}`);
  }
  const n = img.width * img.height;
  if (img.data.length !== n * 3) {
    const ch = img.data.length / n;
    throw new ImageShapeError(`${what}: ${img.width}×${img.height} RGB needs ${n * 3} bytes, got ${img.data.length}${Number.isInteger(ch) ? ` (${ch} channels)` : ''}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Resampling (PIL's ImagingResample, in floating point)

interface Filter {
  support: number;
  f: (x: number) => number;
}

const FILTERS: Record<ResampleFilter, Filter> = {
  area: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, f: (x) => Math.max(0, 1 - Math.abs(x)) },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5; // PIL's bicubic constant (torchvision on PIL images inherits it)
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
};

/** Per output index: first input index and normalised weights (PIL's precompute_coeffs). */
function coefficients(inSize: number, outSize: number, filter: Filter): { start: Int32Array; weights: Float64Array[] } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const start = new Int32Array(outSize);
  const weights: Float64Array[] = [];
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    const w = new Float64Array(Math.max(xmax - xmin, 0));
    let total = 0;
    for (let x = 0; x < w.length; x++) {
      w[x] = filter.f((x + xmin - center + 0.5) / filterScale);
      total += w[x];
    }
    if (total !== 0) for (let x = 0; x < w.length; x++) w[x] /= total;
    start[o] = xmin;
    weights.push(w);
  }
  return { start, weights };
}

const clip8 = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

/** Resizes to width × height with a PIL-style antialiased filter (8-bit rounding after each pass, as PIL). */
export function resizeImage(img: RgbImage, width: number, height: number, filter: ResampleFilter = 'bicubic'): RgbImage {
  checkRgb(img, 'image');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new ImageShapeError(`cannot resize to ${width}×${height}`);
  if (width === img.width && height === img.height) return { width, height, data: img.data.slice() };
  const F = FILTERS[filter];
  let src = img.data;
  let sw = img.width;
  if (width !== img.width) {
    const { start, weights } = coefficients(img.width, width, F);
    const out = new Uint8Array(width * img.height * 3);
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < width; x++) {
        const w = weights[x];
        let r = 0,
          g = 0,
          b = 0;
        for (let k = 0; k < w.length; k++) {
          const s = (y * sw + start[x] + k) * 3;
          r += src[s] * w[k];
          g += src[s + 1] * w[k];
          b += src[s + 2] * w[k];
        }
        const d = (y * width + x) * 3;
        out[d] = clip8(r);
        out[d + 1] = clip8(g);
        out[d + 2] = clip8(b);
      }
    }
    src = out;
    sw = width;
  }
  if (height !== img.height) {
    const { start, weights } = coefficients(img.height, height, F);
    const out = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      const w = weights[y];
      for (let x = 0; x < width; x++) {
        let r = 0,
          g = 0,
          b = 0;
        for (let k = 0; k < w.length; k++) {
          const s = ((start[y] + k) * sw + x) * 3;
          r += src[s] * w[k];
          g += src[s + 1] * w[k];
          b += src[s + 2] * w[k];
        }
        const d = (y * width + x) * 3;
        out[d] = clip8(r);
        out[d + 1] = clip8(g);
        out[d + 2] = clip8(b);
      }
    }
    src = out;
  }
  return { width, height, data: src };
}

/** Python's round(): halves go to the even neighbour (torchvision's CenterCrop offsets use it). */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Centre crop (torchvision `CenterCrop`: top = round((H − h)/2), left = round((W − w)/2)). */
export function centerCrop(img: RgbImage, width: number, height: number): RgbImage {
  checkRgb(img, 'image');
  if (width > img.width || height > img.height) throw new ImageShapeError(`cannot crop ${width}×${height} out of ${img.width}×${img.height}`);
  const top = roundHalfEven((img.height - height) / 2);
  const left = roundHalfEven((img.width - width) / 2);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) out.set(img.data.subarray(((top + y) * img.width + left) * 3, ((top + y) * img.width + left + width) * 3), y * width * 3);
  return { width, height, data: out };
}

/**
 * Show-o's `image_transform` up to the tensor: shorter side → `resolution` (longer side truncated to an integer,
 * as torchvision), then centre crop to resolution × resolution.
 */
export function imageTransform(img: RgbImage, resolution: number, filter: ResampleFilter = 'bicubic'): RgbImage {
  checkRgb(img, 'image');
  const short = Math.min(img.width, img.height);
  const long = Math.max(img.width, img.height);
  const newLong = Math.trunc((resolution * long) / short);
  const [w, h] = img.width <= img.height ? [resolution, newLong] : [newLong, resolution];
  return centerCrop(resizeImage(img, w, h, filter), resolution, resolution);
}

/** Options of {@link imagesToTensor}. */
export interface ImagesToTensorOptions {
  /** Target size: images are passed through {@link imageTransform}. Without it all images must share one size. */
  resolution?: number;
  filter?: ResampleFilter;
}

/** RGB images → tensor [B, R, R, 3] in [−1, 1] (ToTensor, then Normalize(0.5, 0.5)). */
export function imagesToTensor(images: readonly RgbImage[], options: ImagesToTensorOptions = {}): tf.Tensor4D {
  if (images.length === 0) throw new ImageShapeError('no images given');
  const prepared = images.map((img, i) => {
    checkRgb(img, `image ${i}`);
    return options.resolution !== undefined ? imageTransform(img, options.resolution, options.filter) : img;
  });
  const { width, height } = prepared[0];
  prepared.forEach((img, i) => {
    if (img.width !== width || img.height !== height) {
      throw new ImageShapeError(`image ${i} is ${img.width}×${img.height}, image 0 is ${width}×${height} (pass a resolution to resize them)`);
    }
  });
  const n = width * height * 3;
  const data = new Float32Array(prepared.length * n);
  prepared.forEach((img, b) => {
    for (let i = 0; i < n; i++) data[b * n + i] = (img.data[i] / 255 - 0.5) / 0.5;
  });
  return tf.tensor4d(data, [prepared.length, height, width, 3]);
}

/** Reads image files into one batch tensor [B, R, R, 3] in [−1, 1] (Show-o preprocessing). */
export async function loadImageBatch(files: readonly string[], resolution: number, filter: ResampleFilter = 'bicubic'): Promise<tf.Tensor4D> {
  const images = await Promise.all(files.map((f) => readImage(f)));
  return imagesToTensor(images, { resolution, filter });
}

/**
 * Tensor [B, H, W, 3] in [−1, 1] → 8-bit RGB images: clamp to [−1, 1], (x + 1)/2 · 255, round. (The official
 * inference scripts truncate with `astype(uint8)`; rounding is the unbiased choice and differs by at most 1.)
 */
export function tensorToImages(images: tf.Tensor): RgbImage[] {
  if (images.rank !== 4 || images.shape[3] !== 3) throw new ImageShapeError(`images must be [batch, height, width, 3], got [${images.shape.join(', ')}]`);
  const [b, h, w] = images.shape;
  const values = images.dataSync();
  const n = h * w * 3;
  const out: RgbImage[] = [];
  for (let i = 0; i < b; i++) {
    const data = new Uint8Array(n);
    for (let j = 0; j < n; j++) {
      const v = Math.min(1, Math.max(-1, values[i * n + j]));
      data[j] = Math.round(((v + 1) / 2) * 255);
    }
    out.push({ width: w, height: h, data });
  }
  return out;
}

/** Codes [B, h·w] → decoded 8-bit RGB images (see {@link tensorToImages}); no tensors outlive the call. */
export function codesToImages(model: MagvitTokenizer, codes: CodesInput, shape?: readonly [number, number]): RgbImage[] {
  const images = model.decodeCodes(codes, shape);
  try {
    return tensorToImages(images);
  } finally {
    images.dispose();
  }
}

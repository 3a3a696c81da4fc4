/**
 * Images in and out of the facade: files, encoded bytes or pixels in; PNG files out. Inputs of another size than
 * the model's go through Show-o's `image_transform` (shorter side resized, centre crop), as the official
 * inference scripts preprocess them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, writeFileAtomic } from '@showo/runtime';
import type { PixelMask, RgbImage } from '@showo/sampler';
import { decodeImage, encodePng, imageTransform, type RgbImage as MagvitRgbImage } from '@showo/tokenizer-magvit';

/** An image as pixels, as the path of a PNG/JPEG file, or as the bytes of one. */
export type ImageSource = RgbImage | string | Uint8Array;

/** A rectangle in pixels of the input image: `x`, `y` of its top-left corner, `width`, `height`. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Where to inpaint: a rectangle, a mask (pixels, an image file or bytes: a pixel is regenerated when any of its
 * channels is above 127, i.e. white-on-black), or the token mask itself (N entries, truthy = regenerate).
 */
export type InpaintRegion = { box: Box } | { mask: ImageSource | PixelMask } | { tokens: ArrayLike<number | boolean> };

function asBytes(img: RgbImage): Uint8Array {
  return img.data instanceof Uint8Array ? img.data : new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength);
}

function asMagvit(img: RgbImage): MagvitRgbImage {
  return { width: img.width, height: img.height, data: asBytes(img) };
}

function isRgbImage(v: unknown): v is RgbImage {
  const o = v as RgbImage;
  return typeof o === 'object' && o !== null && !(o instanceof Uint8Array) && typeof o.width === 'number' && typeof o.height === 'number' && o.data !== undefined;
}

/** Decodes an {@link ImageSource} to RGB pixels (files are read here; `name` labels errors). */
export async function readImageSource(source: ImageSource, name = 'image'): Promise<RgbImage> {
  if (typeof source === 'string') return decodeImage(await fs.promises.readFile(source), source);
  if (source instanceof Uint8Array) return decodeImage(source, name);
  if (isRgbImage(source)) {
    if (source.data.length !== source.width * source.height * 3) {
      throw new InvalidArgumentError(`${name}: ${source.width}×${source.height} RGB needs ${source.width * source.height * 3} bytes, got ${source.data.length}`);
    }
    return source;
  }
  throw new InvalidArgumentError(`${name}: expected pixels {width, height, data}, a file path or PNG/JPEG bytes`);
}

/** An image at the model's size: unchanged when it already is `size`×`size`, else `image_transform`ed. */
export function fitImage(img: RgbImage, size: number): RgbImage {
  if (img.width === size && img.height === size) return img;
  return imageTransform(asMagvit(img), size);
}

/** Reads an image source and fits it to the model's size. */
export async function loadModelImage(source: ImageSource, size: number, name = 'image'): Promise<RgbImage> {
  return fitImage(await readImageSource(source, name), size);
}

/** A white-on-black RGB image of a rectangle (clipped to the canvas). */
function boxImage(box: Box, width: number, height: number): RgbImage {
  for (const k of ['x', 'y', 'width', 'height'] as const) {
    if (!Number.isFinite(box[k])) throw new InvalidArgumentError(`inpainting box: ${k} must be a number, got ${box[k]}`);
  }
  if (box.width <= 0 || box.height <= 0) throw new InvalidArgumentError(`inpainting box must have a positive size, got ${box.width}×${box.height}`);
  const data = new Uint8Array(width * height * 3);
  const x0 = Math.max(0, Math.floor(box.x));
  const y0 = Math.max(0, Math.floor(box.y));
  const x1 = Math.min(width, Math.ceil(box.x + box.width));
  const y1 = Math.min(height, Math.ceil(box.y + box.height));
  if (x0 >= x1 || y0 >= y1) throw new InvalidArgumentError(`inpainting box ${box.x},${box.y},${box.width},${box.height} lies outside the ${width}×${height} image`);
  for (let y = y0; y < y1; y++) data.fill(255, (y * width + x0) * 3, (y * width + x1) * 3);
  return { width, height, data };
}

function pixelMaskToImage(m: PixelMask): RgbImage {
  if (m.data.length !== m.width * m.height) throw new InvalidArgumentError(`mask: ${m.width}×${m.height} needs ${m.width * m.height} values, got ${m.data.length}`);
  const data = new Uint8Array(m.width * m.height * 3);
  for (let i = 0; i < m.width * m.height; i++) if (m.data[i]) data.fill(255, 3 * i, 3 * i + 3);
  return { width: m.width, height: m.height, data };
}

/**
 * The sampler's mask for a region given against an input image of `inputWidth`×`inputHeight`: rectangles and mask
 * images are transformed exactly like the image (so they keep covering the same content), then thresholded.
 */
export async function resolveRegion(
  region: InpaintRegion,
  inputWidth: number,
  inputHeight: number,
  size: number,
): Promise<PixelMask | { tokens: ArrayLike<number | boolean> }> {
  if ('tokens' in region) return { tokens: region.tokens };
  let img: RgbImage;
  if ('box' in region) img = boxImage(region.box, inputWidth, inputHeight);
  else {
    const m = region.mask;
    const isPixelMask = typeof m === 'object' && !(m instanceof Uint8Array) && (m as PixelMask).data?.length === (m as PixelMask).width * (m as PixelMask).height;
    img = isPixelMask ? pixelMaskToImage(m as PixelMask) : await readImageSource(m as ImageSource, 'mask');
    if (img.width !== inputWidth || img.height !== inputHeight) {
      throw new InvalidArgumentError(`the mask is ${img.width}×${img.height} but the image is ${inputWidth}×${inputHeight}; they must be the same size`);
    }
  }
  const fitted = fitImage(img, size);
  const bytes = asBytes(fitted);
  const data = new Uint8Array(size * size);
  for (let i = 0; i < data.length; i++) data[i] = bytes[3 * i]! > 127 || bytes[3 * i + 1]! > 127 || bytes[3 * i + 2]! > 127 ? 1 : 0;
  return { width: size, height: size, data };
}

/** Encodes pixels as PNG bytes. */
export function toPng(img: RgbImage): Uint8Array {
  return encodePng(asMagvit(img));
}

/** Writes pixels as a PNG file, atomically (creating the folder). */
export function writePngFile(file: string, img: RgbImage): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileAtomic(file, toPng(img));
}

import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, readSafetensors, writeSafetensors } from '@showo/runtime';
import type { MagvitTokenizer } from '@showo/tokenizer-magvit';

/**
 * The narrow view data preparation has of an image tokenizer: RGB images in, discrete codes out. Keeping it this
 * small lets the data streams cache codes, and lets tests use a tokenizer without tensors.
 */
export interface ImageEncoder {
  /** Codes per image (N). */
  readonly tokensPerImage: number;
  /** Number of distinct codes K; every code lies in [0, K). */
  readonly codebookSize: number;
  /** Images as row-major RGB bytes (`size`×`size`×3) → one Int32Array of N codes per image. */
  encode(images: readonly Uint8Array[], size: number): Promise<Int32Array[]> | Int32Array[];
}

/**
 * An {@link ImageEncoder} over a MAGVIT tokenizer (`@showo/tokenizer-magvit`): bytes → [−1, 1] NHWC tensor →
 * `encodeToCodes`, in chunks of `chunk` images so memory stays bounded.
 */
export function magvitImageEncoder(tokenizer: MagvitTokenizer, options: { imageSize?: number; chunk?: number } = {}): ImageEncoder {
  const size = options.imageSize ?? 64;
  const [h, w] = tokenizer.latentShape(size, size);
  const chunk = options.chunk ?? 16;
  return {
    tokensPerImage: h * w,
    codebookSize: 2 ** tokenizer.config.codebookDim,
    async encode(images, imgSize) {
      if (imgSize !== size) throw new InvalidArgumentError(`this encoder was set up for ${size}×${size} images, got ${imgSize}×${imgSize}`);
      const out: Int32Array[] = [];
      const n = size * size * 3;
      for (let s = 0; s < images.length; s += chunk) {
        const part = images.slice(s, s + chunk);
        const data = new Float32Array(part.length * n);
        part.forEach((img, b) => {
          if (img.length !== n) throw new InvalidArgumentError(`image ${s + b} has ${img.length} bytes, expected ${n}`);
          for (let i = 0; i < n; i++) data[b * n + i] = img[i] / 127.5 - 1;
        });
        const codes = tf.tidy(() => tokenizer.encodeToCodes(tf.tensor4d(data, [part.length, size, size, 3])));
        const flat = (await codes.data()) as Int32Array;
        codes.dispose();
        for (let b = 0; b < part.length; b++) out.push(Int32Array.from(flat.subarray(b * h * w, (b + 1) * h * w)));
      }
      return out;
    },
  };
}

/**
 * A trivial tokenizer with no parameters: the image is cut into `patch`×`patch` squares and each square's code is
 * the index of the palette colour (or 0 for background) nearest to its centre pixel. Exact on Shapes World's flat
 * colours at the centres, so it is a meaningful stand-in for tests and a baseline when no tokenizer is trained.
 */
export class PatchPaletteEncoder implements ImageEncoder {
  readonly tokensPerImage: number;
  readonly codebookSize: number;
  private readonly colors: ReadonlyArray<readonly [number, number, number]>;
  constructor(
    private readonly imageSize = 64,
    private readonly patch = 8,
    palette: ReadonlyArray<readonly [number, number, number]> = [
      [255, 255, 255],
      [220, 40, 40],
      [40, 170, 60],
      [40, 80, 220],
      [240, 200, 40],
      [140, 60, 180],
      [245, 130, 30],
    ],
  ) {
    if (imageSize % patch !== 0) throw new InvalidArgumentError(`patch ${patch} does not divide image size ${imageSize}`);
    this.tokensPerImage = (imageSize / patch) ** 2;
    this.codebookSize = palette.length;
    this.colors = palette;
  }
  encode(images: readonly Uint8Array[], size: number): Int32Array[] {
    if (size !== this.imageSize) throw new InvalidArgumentError(`expected ${this.imageSize}×${this.imageSize} images, got ${size}×${size}`);
    const g = size / this.patch;
    return images.map((img) => {
      const codes = new Int32Array(g * g);
      for (let py = 0; py < g; py++) {
        for (let px = 0; px < g; px++) {
          const x = px * this.patch + (this.patch >> 1);
          const y = py * this.patch + (this.patch >> 1);
          const i = (y * size + x) * 3;
          let best = 0;
          let bestD = Infinity;
          this.colors.forEach((c, k) => {
            const d = (img[i] - c[0]) ** 2 + (img[i + 1] - c[1]) ** 2 + (img[i + 2] - c[2]) ** 2;
            if (d < bestD) {
              bestD = d;
              best = k;
            }
          });
          codes[py * g + px] = best;
        }
      }
      return codes;
    });
  }
}

/** One image to encode through the cache: a stable key and a way to render it when it is not cached. */
export interface KeyedImage {
  key: string;
  render: () => Uint8Array;
}

/**
 * Caches codes by image key (e.g. a scene's canonical JSON), so a scene seen again is neither rendered nor
 * encoded; bounded (least recently used entries are dropped) and persistable to a safetensors file, so data
 * preparation can be done once and reused by later runs. The cache never changes results: a hit returns the
 * codes the encoder gave for that key.
 */
export class CodeCache {
  private readonly entries = new Map<string, Int32Array>();
  hits = 0;
  misses = 0;
  constructor(
    readonly encoder: ImageEncoder,
    readonly imageSize = 64,
    readonly maxEntries = 100_000,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Codes of every image, encoding only the misses (in one encoder call). */
  async encode(images: readonly KeyedImage[]): Promise<Int32Array[]> {
    const out: Array<Int32Array | undefined> = images.map((im) => {
      const c = this.entries.get(im.key);
      if (c) {
        // Refresh recency: Map iteration order is insertion order.
        this.entries.delete(im.key);
        this.entries.set(im.key, c);
      }
      return c;
    });
    const missIdx: number[] = [];
    const missKeys = new Map<string, number>();
    out.forEach((c, i) => {
      if (c) this.hits++;
      else if (!missKeys.has(images[i].key)) {
        missKeys.set(images[i].key, missIdx.length);
        missIdx.push(i);
      }
    });
    if (missIdx.length) {
      this.misses += missIdx.length;
      const codes = await this.encoder.encode(
        missIdx.map((i) => images[i].render()),
        this.imageSize,
      );
      if (codes.length !== missIdx.length) throw new InvalidArgumentError(`encoder returned ${codes.length} code lists for ${missIdx.length} images`);
      missIdx.forEach((i, k) => this.put(images[i].key, codes[k]));
      out.forEach((c, i) => {
        if (!c) out[i] = codes[missKeys.get(images[i].key)!];
      });
    }
    return out as Int32Array[];
  }

  private put(key: string, codes: Int32Array): void {
    if (codes.length !== this.encoder.tokensPerImage) throw new InvalidArgumentError(`encoder gave ${codes.length} codes, expected ${this.encoder.tokensPerImage}`);
    this.entries.set(key, codes);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Writes the cache (codes [n, N] int32 + keys in the metadata) atomically. */
  save(file: string): void {
    const n = this.entries.size;
    const N = this.encoder.tokensPerImage;
    const data = new Int32Array(n * N);
    let k = 0;
    for (const c of this.entries.values()) data.set(c, N * k++);
    writeSafetensors(file, { codes: { dtype: 'I32', shape: [n, N], data } }, { keys: JSON.stringify([...this.entries.keys()]), codebookSize: String(this.encoder.codebookSize) });
  }

  /** Adds the entries of a file written by {@link save} (refused when made with another code layout). */
  load(file: string): void {
    const { tensors, metadata } = readSafetensors(file);
    const codes = tensors.get('codes');
    const keys = JSON.parse(metadata.keys ?? '[]') as string[];
    const N = this.encoder.tokensPerImage;
    if (!codes || codes.shape.length !== 2 || codes.shape[1] !== N || codes.shape[0] !== keys.length || Number(metadata.codebookSize) !== this.encoder.codebookSize) {
      throw new InvalidArgumentError(`${file} is not a code cache of ${N} codes per image from a ${this.encoder.codebookSize}-code tokenizer`);
    }
    keys.forEach((key, i) => this.put(key, Int32Array.from(codes.data.subarray(i * N, (i + 1) * N))));
  }
}

// Exact patch codes (`PatchCodebook` of @showo/tokenizer-magvit) for the embedded-model scripts: as the image
// encoder of Show-o's training data, as the codec of its evaluation before a tokenizer has learnt them, and as the
// targets of the tokenizer's encoder and decoder training.
import fs from 'node:fs';
import type { ImageCodec } from '@showo/sampler';
import { CANVAS_SIZE, detectObjects, isHeldOut, type Shape } from '@showo/shapes-world';
import { SeededRandom } from '@showo/runtime';
import { PatchCodebook, type RgbImage } from '@showo/tokenizer-magvit';
import { ShapesWorldImageData, type ImageBatch, type ImageEncoder, type JsonValue } from '@showo/trainer';
import type { EmbeddedImages } from './showo-common.js';

export function loadPatchCodebook(file: string): PatchCodebook {
  return PatchCodebook.fromJSON(JSON.parse(fs.readFileSync(file, 'utf8')));
}

export function patchCodebookImages(codebook: PatchCodebook, size = CANVAS_SIZE): EmbeddedImages {
  const grid = size / codebook.patch;
  const encoder: ImageEncoder = {
    tokensPerImage: grid * grid,
    codebookSize: codebook.codebookSize,
    encode: (images, s) => images.map((data) => codebook.encode({ width: s, height: s, data })),
  };
  const codec: ImageCodec = {
    patchSize: codebook.patch,
    encode: (images) => images.map((img) => codebook.encode({ width: img.width, height: img.height, data: Uint8Array.from(img.data) })),
    decode: (codes, g) => codes.map((c) => codebook.decode(c, [g.height, g.width])),
  };
  return { encoder, codec };
}

/** Rendered scenes with their exact patch codes: targets for encoder-only and decoder-only tokenizer training. */
export class PatchCodeImageData extends ShapesWorldImageData {
  constructor(
    private readonly codebook: PatchCodebook,
    options: ConstructorParameters<typeof ShapesWorldImageData>[0],
  ) {
    super(options);
  }
  override next(): IteratorResult<ImageBatch> {
    const r = super.next();
    const b = r.value as ImageBatch;
    const n = b.size * b.size * 3;
    const per = (b.size / this.codebook.patch) ** 2;
    const codes = new Int32Array(b.batch * per);
    for (let k = 0; k < b.batch; k++) {
      const data = new Uint8Array(n);
      for (let i = 0; i < n; i++) data[i] = Math.round((b.pixels[k * n + i]! + 1) * 127.5);
      codes.set(this.codebook.encode({ width: b.size, height: b.size, data } satisfies RgbImage), k * per);
    }
    return { done: false, value: { ...b, codes } };
  }
}

/**
 * Decoder training data in which every code of the codebook is common: a share of the images are mosaics of
 * random patches (each a random colour, in runs, with a random mask of the codebook), the rest rendered scenes.
 * Scenes alone pair each mask with the colours of the training compositions only (no purple triangle edge, say),
 * so a decoder trained on them never learns to read the colour bits apart from the mask bits. A mosaic is made of
 * 4×4 fragments, not objects; each held-out composition that the SPEC detector finds in a mosaic is erased, so the
 * rule "no training image contains a purple triangle, an orange circle or a green square" holds as the
 * evaluation's own detector sees it.
 */
export class PatchMosaicData extends PatchCodeImageData {
  private readonly mosaicRng: SeededRandom;
  private readonly mosaicShare: number;
  private readonly patchworkShare: number;
  /** Held-out compositions the detector found in mosaics and patchworks, and erased. */
  erased = 0;
  constructor(
    private readonly book: PatchCodebook,
    options: ConstructorParameters<typeof ShapesWorldImageData>[0] & { mosaicShare: number; patchworkShare?: number },
  ) {
    super(book, options);
    this.mosaicRng = new SeededRandom(options.seed + 31337);
    this.mosaicShare = options.mosaicShare;
    this.patchworkShare = options.patchworkShare ?? 0;
    const shares = [this.mosaicShare, this.patchworkShare];
    if (shares.some((v) => !(v >= 0)) || this.mosaicShare + this.patchworkShare > 1) {
      throw new RangeError(`mosaic share ${this.mosaicShare} and patchwork share ${this.patchworkShare} must be ≥ 0 and sum to at most 1`);
    }
  }
  override next(): IteratorResult<ImageBatch> {
    const r = super.next();
    const b = r.value as ImageBatch;
    const n = b.size * b.size * 3;
    const grid = b.size / this.book.patch;
    const per = grid * grid;
    for (let k = 0; k < b.batch; k++) {
      const u = this.mosaicRng.next();
      let codes: Int32Array | undefined;
      if (u < this.mosaicShare) codes = this.mosaic(per, grid);
      else if (u < this.mosaicShare + this.patchworkShare) codes = this.patchwork(b.codes!.slice(k * per, (k + 1) * per), grid);
      if (!codes) continue;
      const img = this.book.decode(codes, [grid, grid]);
      for (let i = 0; i < n; i++) b.pixels[k * n + i] = img.data[i]! / 127.5 - 1;
      b.codes!.set(codes, k * per);
    }
    return { done: false, value: b };
  }
  override getState(): JsonValue {
    return { scenes: super.getState(), mosaic: this.mosaicRng.getState().map((v) => (Number.isNaN(v) ? null : v)), erased: this.erased };
  }
  override setState(state: JsonValue): void {
    const s = state as { scenes?: JsonValue; mosaic?: number[]; erased?: number };
    if (!s || s.scenes === undefined || !Array.isArray(s.mosaic)) throw new Error('not a mosaic stream state');
    super.setState(s.scenes);
    this.mosaicRng.setState(s.mosaic);
    this.erased = s.erased ?? 0;
  }
  private mosaic(per: number, grid: number): Int32Array {
    const rng = this.mosaicRng;
    const classes = this.book.palette.length;
    const slots = [...this.book.masks.keys()].filter((i) => this.book.masks[i] !== 0).map((i) => i + 1);
    for (;;) {
      const codes = new Int32Array(per);
      // Runs of one colour make neighbouring fragments join into larger blobs now and then, as in scenes.
      let colour = 1 + Math.floor(rng.next() * (classes - 1));
      for (let i = 0; i < per; i++) {
        if (rng.next() < 0.3) colour = 1 + Math.floor(rng.next() * (classes - 1));
        const u = rng.next();
        codes[i] = u < 0.35 ? 0 : u < 0.5 ? this.book.code(colour, 2 ** (this.book.patch * this.book.patch) - 1) : colour * 2 ** this.book.maskBits + slots[Math.floor(rng.next() * slots.length)]!;
      }
      if (this.eraseHeldOut(codes, grid)) return codes;
    }
  }

  /**
   * A rendered scene whose objects are recoloured in square blocks of 1–3 patches, each block its own random
   * colour. The outlines stay those of whole circles, squares and triangles, so the encoder sees an orange arc or
   * a green square corner in the context of a real object, which mosaics of loose fragments cannot show, while
   * the detector finds no held-out object (one that it still finds is erased, as in mosaics). Without this the
   * encoder learns the training compositions' colour–shape pairing, and flips a colour or mask bit on the edges of
   * held-out objects. Returns undefined when the scene cannot be cleaned (the caller keeps the plain scene).
   */
  private patchwork(codes: Int32Array, grid: number): Int32Array | undefined {
    const rng = this.mosaicRng;
    const classes = this.book.palette.length;
    const slotCount = 2 ** this.book.maskBits;
    const block = 1 + Math.floor(rng.next() * 3);
    const blocks = Math.ceil(grid / block);
    const colours = Array.from({ length: blocks * blocks }, () => 1 + Math.floor(rng.next() * (classes - 1)));
    for (let py = 0; py < grid; py++) {
      for (let px = 0; px < grid; px++) {
        const c = codes[py * grid + px]!;
        if (c < slotCount) continue; // background patch: no colour to change
        codes[py * grid + px] = colours[Math.floor(py / block) * blocks + Math.floor(px / block)]! * slotCount + (c % slotCount);
      }
    }
    return this.eraseHeldOut(codes, grid) ? codes : undefined;
  }

  /**
   * Erases (sets to background) every held-out composition the detector finds, until none is left: erasing only
   * removes pixels, but it can cut another object into a new shape, hence the rounds. False when one is still
   * there after 8 rounds.
   */
  private eraseHeldOut(codes: Int32Array, grid: number): boolean {
    for (let round = 0; ; round++) {
      const img = this.book.decode(codes, [grid, grid]);
      const bad = detectObjects(img.data, img.width).filter((o) => o.shape !== 'unknown' && isHeldOut(o.shape as Shape, o.color));
      if (bad.length === 0) return true;
      if (round === 8) return false;
      this.erased += bad.length;
      const P = this.book.patch;
      for (const o of bad) {
        for (let py = Math.floor(o.bbox.y0 / P); py <= Math.floor(o.bbox.y1 / P); py++) {
          for (let px = Math.floor(o.bbox.x0 / P); px <= Math.floor(o.bbox.x1 / P); px++) codes[py * grid + px] = 0;
        }
      }
    }
  }
}

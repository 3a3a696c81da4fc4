// Exact patch codes (`PatchCodebook` of @showo/tokenizer-magvit) for the embedded-model scripts: as the image
// encoder of Show-o's training data, as the codec of its evaluation before a tokenizer has learnt them, and as the
// targets of the tokenizer's encoder and decoder training.
import fs from 'node:fs';
import type { ImageCodec } from '@showo/sampler';
import { CANVAS_SIZE } from '@showo/shapes-world';
import { PatchCodebook, type RgbImage } from '@showo/tokenizer-magvit';
import { ShapesWorldImageData, type ImageBatch, type ImageEncoder } from '@showo/trainer';
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

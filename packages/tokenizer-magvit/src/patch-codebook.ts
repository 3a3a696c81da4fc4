/**
 * Exact patch codes for images drawn in a small palette, as targets for training a MAGVIT-v2 tokenizer.
 *
 * A convolutional encoder trained only to reconstruct spreads a patch's content over the codes around it: the same
 * white patch gets many different codes depending on what lies next to it (measured on the embedded tokenizer: 93
 * codes for a plain white patch, 1.4 nats of code entropy given the patch's own pixels). A generator drawing such
 * codes must model that context noise as well as the picture. A palette image, though, has few distinct patches —
 * Shapes World has 241 distinct partial 4×4 foreground masks — so every patch can get a code that names exactly its
 * colour and its mask. A
 * `PatchCodebook` is that assignment: `encode` and `decode` are exact lookups, and the tokenizer is trained to
 * reproduce them (`magvitEncoderLoss` for the encoder, `magvitDecoderLoss` on the codebook's codes for the
 * decoder), so the trained MAGVIT-v2 keeps the official architecture while its codes describe their own patch.
 *
 * Code layout (channel 0 of the LFQ latent is the most significant bit): the top `colourBits` bits are the
 * palette class of the patch's foreground (0, the background class, when the patch has none), the low
 * `codebookDim − colourBits` bits the mask slot. Slot 0 is the full patch, so a uniform patch of class c has the
 * code c · 2^maskBits; slots 1… are the foreground masks seen when the codebook was built, most frequent first.
 * A patch whose foreground holds two classes takes the more frequent one for its whole mask; a mask never seen
 * takes the nearest known one (fewest differing pixels, the more frequent on ties).
 */
import { InvalidArgumentError } from '@showo/runtime';
import { CodeRangeError, ImageShapeError } from './errors.js';
import type { RgbImage } from './image-io.js';

/** The serialised form of a {@link PatchCodebook} (`toJSON` / `fromJSON`). */
export interface PatchCodebookJson {
  format: 'showo-patch-codebook-v1';
  /** Patch side in pixels (the tokenizer's downsampling factor). */
  patch: number;
  /** Palette colours; class 0 is the background. */
  palette: [number, number, number][];
  /** Bits per code (the tokenizer's `codebookDim`). */
  codebookDim: number;
  /** Foreground masks of slots 1…: bit (y·patch + x) set where pixel (x, y) is foreground. */
  masks: number[];
}

/** Options of {@link PatchCodebook.fromImages}. */
export interface PatchCodebookOptions {
  /** Patch side in pixels (4 for a tokenizer that downsamples 64×64 to 16×16). */
  patch: number;
  /** Palette colours; class 0 is the background. */
  palette: readonly (readonly [number, number, number])[];
  /** Bits per code. */
  codebookDim: number;
}

export class PatchCodebook {
  readonly patch: number;
  readonly palette: readonly (readonly [number, number, number])[];
  readonly codebookDim: number;
  readonly colourBits: number;
  readonly maskBits: number;
  /** Foreground masks of slots 1…, most frequent first (0: an unused slot, see {@link withGeometricSlots}). */
  readonly masks: readonly number[];
  private readonly full: number;
  private readonly slotOf = new Map<number, number>();

  private constructor(o: PatchCodebookOptions, masks: readonly number[]) {
    if (!Number.isInteger(o.patch) || o.patch < 1 || o.patch > 5) throw new InvalidArgumentError(`patch must be an integer in [1, 5], got ${o.patch}`);
    if (o.palette.length < 2) throw new InvalidArgumentError(`the palette needs a background and at least one colour, got ${o.palette.length} entries`);
    this.patch = o.patch;
    this.palette = o.palette.map((c) => [c[0], c[1], c[2]] as const);
    this.codebookDim = o.codebookDim;
    this.colourBits = Math.ceil(Math.log2(o.palette.length));
    this.maskBits = o.codebookDim - this.colourBits;
    if (!Number.isInteger(o.codebookDim) || this.maskBits < 1 || o.codebookDim > 30) {
      throw new InvalidArgumentError(`${o.codebookDim} code bits cannot hold ${o.palette.length} palette classes and a mask slot`);
    }
    this.full = 2 ** (o.patch * o.patch) - 1;
    const slots = 2 ** this.maskBits;
    if (masks.length + 1 > slots) throw new InvalidArgumentError(`${masks.length} masks and the full patch do not fit ${this.maskBits} mask bits (${slots} slots)`);
    this.masks = [...masks];
    this.slotOf.set(this.full, 0);
    masks.forEach((m, i) => {
      if (m === 0) return; // an unused slot
      if (!Number.isInteger(m) || m < 0 || m >= this.full) throw new InvalidArgumentError(`mask ${m} is not a partial ${o.patch}×${o.patch} mask`);
      if (this.slotOf.has(m)) throw new InvalidArgumentError(`mask ${m} is listed twice`);
      this.slotOf.set(m, i + 1);
    });
  }

  /**
   * Builds the codebook from example images: every partial foreground mask they contain gets a slot, most
   * frequent first, as many as the mask bits hold.
   */
  static fromImages(images: Iterable<RgbImage>, options: PatchCodebookOptions): PatchCodebook {
    const probe = new PatchCodebook(options, []);
    const counts = new Map<number, number>();
    for (const img of images) {
      probe.forEachPatch(img, (_, mask) => {
        if (mask !== 0 && mask !== probe.full) counts.set(mask, (counts.get(mask) ?? 0) + 1);
      });
    }
    const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([m]) => m);
    return new PatchCodebook(options, sorted.slice(0, 2 ** probe.maskBits - 1));
  }

  static fromJSON(json: unknown): PatchCodebook {
    const j = json as Partial<PatchCodebookJson> | null;
    if (!j || j.format !== 'showo-patch-codebook-v1') throw new InvalidArgumentError('not a patch codebook (format showo-patch-codebook-v1 expected)');
    if (!Array.isArray(j.palette) || !Array.isArray(j.masks) || typeof j.patch !== 'number' || typeof j.codebookDim !== 'number') {
      throw new InvalidArgumentError('patch codebook: patch, palette, codebookDim and masks are required');
    }
    if (!j.palette.every((c) => Array.isArray(c) && c.length === 3 && c.every((v) => Number.isInteger(v) && v >= 0 && v <= 255))) {
      throw new InvalidArgumentError('patch codebook: every palette entry must be [r, g, b] with 8-bit integers');
    }
    return new PatchCodebook({ patch: j.patch, palette: j.palette, codebookDim: j.codebookDim }, j.masks);
  }

  /**
   * The same masks in slots whose bits describe their geometry, for a tokenizer that learns faster. Slots are
   * otherwise numbered by frequency, so that a mask bit means nothing by itself and a decoder must learn the mask
   * table by rote (each of 2^maskBits patterns an arbitrary 16-pixel picture). Here the masks and the full patch are
   * split recursively at the median of their first principal component (a PCA tree, most significant mask bit
   * first), so the top mask bits say on which side of the patch the foreground lies and the low bits refine it; the
   * side that holds the full patch always takes bit 0, which keeps it in slot 0. Slots the tree leaves empty are
   * unused (mask 0). Only the numbering changes: every known mask keeps its picture (a mask never seen may take
   * another of its equally near masks, since ties go to the lower slot).
   */
  withGeometricSlots(): PatchCodebook {
    const slots = 2 ** this.maskBits;
    const bySlot = new Array<number>(slots).fill(0);
    const pixels = this.patch * this.patch;
    const vec = (m: number) => Array.from({ length: pixels }, (_, k) => (m >>> k) & 1);
    const place = (items: number[], first: number, capacity: number): void => {
      if (items.length === 0) return;
      if (capacity === 1) {
        bySlot[first] = items[0]!;
        return;
      }
      const proj = principalProjection(items.map(vec));
      const order = items.map((m, i) => ({ m, p: proj[i]! })).sort((a, b) => a.p - b.p || a.m - b.m);
      const cut = Math.ceil(items.length / 2);
      let low = order.slice(0, cut).map((o) => o.m);
      let high = order.slice(cut).map((o) => o.m);
      if (high.includes(this.full)) [low, high] = [high, low];
      place(low, first, capacity / 2);
      place(high, first + capacity / 2, capacity / 2);
    };
    place([this.full, ...this.masks.filter((m) => m !== 0)], 0, slots);
    if (bySlot[0] !== this.full) throw new Error('internal: the full patch left slot 0');
    let last = slots - 1;
    while (last > 0 && bySlot[last] === 0) last--;
    return new PatchCodebook({ patch: this.patch, palette: this.palette, codebookDim: this.codebookDim }, bySlot.slice(1, last + 1));
  }

  toJSON(): PatchCodebookJson {
    return { format: 'showo-patch-codebook-v1', patch: this.patch, palette: this.palette.map((c) => [c[0], c[1], c[2]]), codebookDim: this.codebookDim, masks: [...this.masks] };
  }

  /** Number of codes (2^codebookDim); only 1 + (classes − 1)·(1 + used mask slots) of them are ever produced. */
  get codebookSize(): number {
    return 2 ** this.codebookDim;
  }

  /** The code of a patch of foreground class `colour` with foreground `mask` (0: no foreground). */
  code(colour: number, mask: number): number {
    if (mask === 0) return 0;
    return colour * 2 ** this.maskBits + this.slot(mask);
  }

  /** Code indices [h·w] (row-major) of an image whose sides are multiples of the patch. */
  encode(image: RgbImage): Int32Array {
    const out = new Int32Array((image.width / this.patch) * (image.height / this.patch));
    this.forEachPatch(image, (i, mask, colour) => {
      out[i] = this.code(colour, mask);
    });
    return out;
  }

  /** The image of codes [h·w] on a grid of `grid` = [h, w] patches. */
  decode(codes: ArrayLike<number>, grid: readonly [number, number]): RgbImage {
    const [h, w] = grid;
    if (codes.length !== h * w) throw new CodeRangeError(`${codes.length} codes do not fill a ${h}×${w} grid`);
    const P = this.patch;
    const width = w * P;
    const data = new Uint8Array(h * P * width * 3);
    const bg = this.palette[0]!;
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i]!;
      if (!Number.isInteger(code) || code < 0 || code >= this.codebookSize) throw new CodeRangeError(`code ${code} at ${i} is outside [0, ${this.codebookSize})`);
      const colour = Math.floor(code / 2 ** this.maskBits);
      const slot = code % 2 ** this.maskBits;
      // Codes that no patch produces (a class beyond the palette, a slot past the list or marked unused by 0) draw
      // as background.
      const mask = colour >= this.palette.length || slot > this.masks.length ? 0 : slot === 0 ? this.full : this.masks[slot - 1]!;
      const fg = this.palette[colour] ?? bg;
      const py = Math.floor(i / w);
      const px = i % w;
      for (let y = 0; y < P; y++) {
        for (let x = 0; x < P; x++) {
          const c = (mask >>> (y * P + x)) & 1 ? fg : bg;
          const o = ((py * P + y) * width + px * P + x) * 3;
          data[o] = c[0];
          data[o + 1] = c[1];
          data[o + 2] = c[2];
        }
      }
    }
    return { width, height: h * P, data };
  }

  private slot(mask: number): number {
    const known = this.slotOf.get(mask);
    if (known !== undefined) return known;
    let best = 0;
    let bestD = popcount(mask ^ this.full);
    this.masks.forEach((m, i) => {
      if (m === 0) return;
      const d = popcount(mask ^ m);
      if (d < bestD) {
        bestD = d;
        best = i + 1;
      }
    });
    this.slotOf.set(mask, best);
    return best;
  }

  /** Calls `f(patchIndex, foregroundMask, foregroundClass)` for every patch, row-major. */
  private forEachPatch(image: RgbImage, f: (i: number, mask: number, colour: number) => void): void {
    const P = this.patch;
    if (image.width % P || image.height % P || image.width <= 0 || image.height <= 0) {
      throw new ImageShapeError(`a ${image.width}×${image.height} image does not split into ${P}×${P} patches`);
    }
    if (image.data.length !== image.width * image.height * 3) throw new ImageShapeError(`a ${image.width}×${image.height} RGB image has ${image.width * image.height * 3} bytes, got ${image.data.length}`);
    const gw = image.width / P;
    const gh = image.height / P;
    const votes = new Int32Array(this.palette.length);
    for (let py = 0; py < gh; py++) {
      for (let px = 0; px < gw; px++) {
        let mask = 0;
        votes.fill(0);
        for (let y = 0; y < P; y++) {
          for (let x = 0; x < P; x++) {
            const o = ((py * P + y) * image.width + px * P + x) * 3;
            const k = this.nearest(image.data[o]!, image.data[o + 1]!, image.data[o + 2]!);
            if (k !== 0) {
              mask |= 1 << (y * P + x);
              votes[k]++;
            }
          }
        }
        let colour = 0;
        let most = 0;
        for (let k = 1; k < votes.length; k++) {
          if (votes[k]! > most) {
            most = votes[k]!;
            colour = k;
          }
        }
        f(py * gw + px, mask, colour);
      }
    }
  }

  private nearest(r: number, g: number, b: number): number {
    let best = 0;
    let bestD = Infinity;
    for (let k = 0; k < this.palette.length; k++) {
      const c = this.palette[k]!;
      const d = (r - c[0]) ** 2 + (g - c[1]) ** 2 + (b - c[2]) ** 2;
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    }
    return best;
  }
}

/** Projections of the rows onto their first principal component (power iteration on the covariance; deterministic). */
function principalProjection(rows: number[][]): number[] {
  const n = rows.length;
  const d = rows[0]!.length;
  const mean = new Array<number>(d).fill(0);
  for (const r of rows) r.forEach((v, k) => (mean[k]! += v / n));
  const centred = rows.map((r) => r.map((v, k) => v - mean[k]!));
  let dir = Array.from({ length: d }, (_, k) => 1 + k / d); // not orthogonal to any real direction in practice
  for (let it = 0; it < 100; it++) {
    const next = new Array<number>(d).fill(0);
    for (const r of centred) {
      const dot = r.reduce((a, v, k) => a + v * dir[k]!, 0);
      r.forEach((v, k) => (next[k]! += dot * v));
    }
    const norm = Math.hypot(...next);
    if (norm < 1e-12) break; // every row equal to the mean: any order will do
    dir = next.map((v) => v / norm);
  }
  return centred.map((r) => r.reduce((a, v, k) => a + v * dir[k]!, 0));
}

function popcount(v: number): number {
  let c = 0;
  for (let x = v >>> 0; x; x &= x - 1) c++;
  return c;
}

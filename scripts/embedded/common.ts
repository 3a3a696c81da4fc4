// Shared helpers of the embedded-model scripts (scripts/embedded/*): argument parsing, logging, the tokenizer
// config of the embedded model, and the tokenizer gate (reconstruct scenes, compare detected objects).
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createMagvitConfig, type MagvitConfig, type MagvitTokenizer, type PaletteColour, type PatchCodebook } from '@showo/tokenizer-magvit';
import { COLORS, PALETTE, detectObjects, renderScene, whereOf, type Scene } from '@showo/shapes-world';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

export function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}
export const flag = (name: string): boolean => process.argv.includes(`--${name}`);

export function log(...parts: unknown[]): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...parts);
}

/** The 7 classes of the palette decoder: white background first, then the SPEC colours in SPEC order. */
export const WORLD_PALETTE: PaletteColour[] = [[255, 255, 255], ...COLORS.map((c) => [...PALETTE[c]] as unknown as PaletteColour)];

/**
 * Embedded tokenizer: 64×64 → 16×16 codes of 8 bits, palette-class decoder (calibration's successful recipe).
 * Widths 16/32/32 and no ResNet block at full resolution (conv_in → downsample; upsample → conv_out there): the
 * 64×64 layers dominate the cost on single-threaded wasm, and the 4×4-pixel patches need little full-res work.
 */
export function embeddedMagvitConfig(ch = 16, codebookDim = 8): MagvitConfig {
  return createMagvitConfig({
    ch,
    chMult: [1, 2, 2],
    numResBlocks: [0, 1, 1],
    decoderNumResBlocks: [0, 1, 1],
    resolution: 64,
    codebookDim,
    normGroups: 8,
    outputMode: 'palette',
    palette: WORLD_PALETTE,
    // Decoded regions below 24 px are stray pixels (the SPEC's smallest shape covers ~70 px): clean them up.
    paletteMinRegion: 24,
  });
}

/** RGB bytes [N·64·64·3] → float images in [−1, 1]. */
export function scenesToTensor(scenes: readonly Scene[]): tf.Tensor4D {
  const n = 64 * 64 * 3;
  const px = new Float32Array(scenes.length * n);
  scenes.forEach((s, b) => {
    const rgb = renderScene(s);
    for (let i = 0; i < n; i++) px[b * n + i] = rgb[i] / 127.5 - 1;
  });
  return tf.tensor4d(px, [scenes.length, 64, 64, 3]);
}

/** Float images in [−1, 1] → RGB bytes per image. */
export function tensorToBytes(images: tf.Tensor4D): Uint8Array[] {
  const [b, h, w] = images.shape;
  const data = images.dataSync();
  const n = h * w * 3;
  const out: Uint8Array[] = [];
  for (let i = 0; i < b; i++) {
    const u = new Uint8Array(n);
    for (let j = 0; j < n; j++) u[j] = Math.max(0, Math.min(255, Math.round((data[i * n + j] + 1) * 127.5)));
    out.push(u);
  }
  return out;
}

/** Multiset key of detected objects: shape, colour and thirds of each. */
export function objectKey(image: ArrayLike<number>): string {
  return detectObjects(image)
    .map((o) => {
      const w = whereOf(o);
      return `${o.shape}/${o.color}/${w.horizontal}-${w.vertical}`;
    })
    .sort()
    .join('|');
}

export interface TokenizerGate {
  n: number;
  agreement: number;
  psnr: number;
  /** Images whose decoded pixels are exactly the original's. */
  exact: number;
  codesUsed: number;
  /** Share of object pixels under codes that are ≥ 90 % one colour (see {@link colourPurity}). */
  purePixelShare: number;
  /** With {@link GateHalves}: the share of codes equal to the codebook's own. */
  codeAccuracy?: number;
  failures: { original: string; decoded: string }[];
}

/** Adds, per code, the pixel counts of background and each SPEC colour over the patches it encodes. */
export function countPatchColours(into: Map<number, number[]>, images: Uint8Array[], codes: number[][]): void {
  const side = Math.sqrt(codes[0].length);
  const patch = 64 / side;
  images.forEach((img, i) =>
    codes[i].forEach((code, t) => {
      const h = into.get(code) ?? new Array<number>(WORLD_PALETTE.length).fill(0);
      const ty = Math.floor(t / side);
      const tx = t % side;
      for (let y = 0; y < patch; y++)
        for (let x = 0; x < patch; x++) {
          const o = ((ty * patch + y) * 64 + tx * patch + x) * 3;
          const k = WORLD_PALETTE.findIndex((c) => c[0] === img[o] && c[1] === img[o + 1] && c[2] === img[o + 2]);
          if (k >= 0) h[k]++;
        }
      into.set(code, h);
    }),
  );
}

/** Colour purity of codes: of the codes whose patches hold object pixels (≥ 10 %), how many are ≥ 90 % one colour. */
export interface ColourPurity {
  used: number;
  pure: number;
  mixed: number;
  /** Share of all object pixels that lie under one-colour codes. */
  purePixelShare: number;
}

export function colourPurity(hist: Map<number, number[]>): ColourPurity {
  let pure = 0;
  let mixed = 0;
  let purePixels = 0;
  let objectPixels = 0;
  for (const h of hist.values()) {
    const coloured = h.slice(1);
    const total = coloured.reduce((a, x) => a + x, 0);
    if (total < 0.1 * (total + h[0])) continue;
    objectPixels += total;
    if (Math.max(...coloured) >= 0.9 * total) {
      pure++;
      purePixels += total;
    } else mixed++;
  }
  return { used: hist.size, pure, mixed, purePixelShare: purePixels / Math.max(1, objectPixels) };
}

export function describePurity(p: ColourPurity): string {
  return `codes: ${p.used} used; of those holding object pixels ${p.pure} are one colour (≥ 90 %) and ${p.mixed} mixed; object pixels under one-colour codes: ${p.purePixelShare.toFixed(3)}`;
}

/**
 * Which part of a tokenizer trained to a patch codebook's codes the gate measures: `pair` (encode → decode, the
 * gate itself), `encoder` (the encoder's codes decoded exactly by the codebook) or `decoder` (the codebook's exact
 * codes decoded by the decoder). The halves apart say which one limits the pair.
 */
export interface GateHalves {
  codebook: PatchCodebook;
  half: 'pair' | 'encoder' | 'decoder';
}

/** Reconstructs scenes through the tokenizer (encode → codes → decode) and scores them against the originals. */
export function tokenizerGate(model: MagvitTokenizer, scenes: readonly Scene[], batch = 32, halves?: GateHalves): TokenizerGate {
  let agree = 0;
  let mseSum = 0;
  let exact = 0;
  const used = new Set<number>();
  const failures: TokenizerGate['failures'] = [];
  const patchColours = new Map<number, number[]>();
  let codesRight = 0;
  let codesTotal = 0;
  for (let i = 0; i < scenes.length; i += batch) {
    const part = scenes.slice(i, i + batch);
    const originals = part.map((s) => renderScene(s));
    const side = Math.sqrt(originals[0]!.length / 3);
    const x = halves?.half === 'decoder' ? undefined : scenesToTensor(part);
    const codes = x
      ? model.encodeToCodes(x)
      : tf.tensor2d(originals.flatMap((o) => Array.from(halves!.codebook.encode({ width: side, height: side, data: o }))), [part.length, (side / halves!.codebook.patch) ** 2], 'int32');
    const codeRows = codes.arraySync() as number[][];
    for (const row of codeRows) for (const c of row) used.add(c);
    if (halves) {
      originals.forEach((o, k) => {
        const want = halves.codebook.encode({ width: side, height: side, data: o });
        want.forEach((c, j) => {
          codesRight += c === codeRows[k]![j] ? 1 : 0;
        });
        codesTotal += want.length;
      });
    }
    countPatchColours(patchColours, originals, codeRows);
    const grid = Math.round(Math.sqrt(codeRows[0]!.length));
    const y = halves?.half === 'encoder' ? undefined : model.decodeCodes(codes);
    const decoded = y ? tensorToBytes(y) : codeRows.map((row) => halves!.codebook.decode(row, [grid, grid]).data);
    tf.dispose([codes, ...(x ? [x] : []), ...(y ? [y] : [])]);
    part.forEach((_, k) => {
      const a = originals[k];
      const b = decoded[k];
      let se = 0;
      for (let j = 0; j < a.length; j++) se += (a[j] - b[j]) ** 2;
      mseSum += se / a.length;
      if (se === 0) exact++;
      const ka = objectKey(a);
      const kb = objectKey(b);
      if (ka === kb) agree++;
      else if (failures.length < 20) failures.push({ original: ka, decoded: kb });
    });
  }
  const mse = mseSum / scenes.length;
  return {
    n: scenes.length,
    agreement: agree / scenes.length,
    psnr: mse === 0 ? 99 : 10 * Math.log10((255 * 255) / mse),
    exact: exact / scenes.length,
    codesUsed: used.size,
    purePixelShare: colourPurity(patchColours).purePixelShare,
    ...(halves ? { codeAccuracy: codesRight / Math.max(1, codesTotal) } : {}),
    failures,
  };
}

export function readJsonl<T>(file: string): T[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

export function appendJsonl(file: string, obj: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, JSON.stringify(obj) + '\n');
}

/**
 * A contact sheet of 64×64 RGB images: cells of `scale`× nearest-neighbour copies with an optional pass (green) /
 * fail (red) bar under each, on white. Used by recon-sheet.ts and t2i-sheet.ts.
 */
export class ImageSheet {
  readonly cell: number;
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;

  constructor(
    readonly columns: number,
    readonly rows: number,
    readonly scale = 2,
  ) {
    this.cell = 64 * scale + 6;
    this.width = this.cell * columns;
    this.height = this.cell * rows;
    this.data = new Uint8Array(this.width * this.height * 3).fill(255);
  }

  draw(img: ArrayLike<number>, col: number, row: number, pass?: boolean): void {
    const { scale: S, cell, width: W, data } = this;
    for (let y = 0; y < 64 * S; y++) {
      for (let x = 0; x < 64 * S; x++) {
        const s = (Math.floor(y / S) * 64 + Math.floor(x / S)) * 3;
        const d = ((row * cell + y) * W + col * cell + x) * 3;
        data[d] = img[s]!;
        data[d + 1] = img[s + 1]!;
        data[d + 2] = img[s + 2]!;
      }
    }
    if (pass === undefined) return;
    for (let y = 64 * S + 1; y < 64 * S + 4; y++) {
      for (let x = 0; x < 64 * S; x++) data.set(pass ? [40, 170, 60] : [220, 40, 40], ((row * cell + y) * W + col * cell + x) * 3);
    }
  }
}

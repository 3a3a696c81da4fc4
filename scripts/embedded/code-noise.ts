// Training data for a decoder that cleans up a generator's codes (`train-tokenizer.ts --decoder-only --code-noise`).
//
// MaskGIT commits its last, least certain tokens many at a time (with 12 cosine steps the last step fixes ~33 of
// 256 at once), each sampled independently: exactly the codes around and inside objects. The decoder then renders
// a code arrangement no real image has, and the detector sees a lumpy blob ("unknown shape"). Here a trained
// Show-o makes those errors on purpose: for each scene, a random share of the codes in and around its objects is
// masked and re-sampled by Show-o in one step (conditioned on the scene's caption and on the codes left), and the
// decoder is trained to render the *original* scene from the result. Codes and encoder stay exactly as they are.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createAttentionMaskPredictNext } from '@showo/omni-attention';
import { SeededRandom } from '@showo/runtime';
import { CANVAS_SIZE, describeScene, renderScene, sampleHowto, sampleT2i, type Scene } from '@showo/shapes-world';
import { ShowoModel } from '@showo/showo-core';
import type { MagvitTokenizer } from '@showo/tokenizer-magvit';
import { maskTokenIds, type ImageBatch, type JsonValue } from '@showo/trainer';
import { objectKey, tensorToBytes } from './common.js';
import { embeddedSetup, type EmbeddedSetup } from './showo-common.js';

export interface CodeNoiseOptions {
  /** Share of images whose codes are corrupted (the rest keep their own codes). */
  share: number;
  /** Most of the object neighbourhood re-sampled in one image (each image draws its rate uniformly up to this). */
  maxRate: number;
}

/** Re-samples codes in and around objects with a Show-o, as MaskGIT's last steps would. */
export class ShowoCodeNoise {
  private readonly setup: EmbeddedSetup = embeddedSetup();
  private readonly background: number;
  private constructor(
    private readonly showo: ShowoModel,
    private readonly tokenizer: MagvitTokenizer,
  ) {
    const blank = tf.fill([1, CANVAS_SIZE, CANVAS_SIZE, 3], 1) as tf.Tensor4D;
    const codes = tf.tidy(() => this.tokenizer.encodeToCodes(blank).dataSync());
    blank.dispose();
    // The blank canvas's most common code (its border codes may differ from the interior's).
    const counts = new Map<number, number>();
    for (const c of codes) counts.set(c, (counts.get(c) ?? 0) + 1);
    this.background = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  }

  static async load(showoDir: string, tokenizer: MagvitTokenizer): Promise<ShowoCodeNoise> {
    return new ShowoCodeNoise(await ShowoModel.load(path.resolve(showoDir)), tokenizer);
  }

  /**
   * Corrupts `codes[i]` (the scenes' own codes, [h·w] each) at a random share (≤ maxRate, drawn per image) of the
   * positions whose 3×3 neighbourhood holds a non-background code; returns new arrays and how many codes changed.
   */
  corrupt(codes: Int32Array[], captions: string[], rng: SeededRandom, options: CodeNoiseOptions): { codes: Int32Array[]; changed: number } {
    const s = this.setup;
    const layout = s.layout;
    const N = codes[0]!.length;
    const side = Math.round(Math.sqrt(N));
    const K = layout.codebookSize;
    const masks = codes.map((c) => {
      if (rng.next() >= options.share) return new Uint8Array(N);
      const near = new Uint8Array(N);
      for (let i = 0; i < N; i++) {
        if (c[i] === this.background) continue;
        const y = Math.floor(i / side), x = i % side;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy, xx = x + dx;
          if (yy >= 0 && yy < side && xx >= 0 && xx < side) near[yy * side + xx] = 1;
        }
      }
      const rate = rng.next() * options.maxRate;
      const m = new Uint8Array(N);
      for (let i = 0; i < N; i++) if (near[i] && rng.next() < rate) m[i] = 1;
      return m;
    });
    const rows = codes.map((_, b) => b).filter((b) => masks[b]!.some((v) => v));
    const out = codes.map((c) => c.slice());
    if (rows.length === 0) return { codes: out, changed: 0 };
    const imageIds = rows.map((b) => Array.from(codes[b]!, (v, i) => (masks[b]![i] ? layout.maskId : layout.codeToId(v))));
    const p = s.prompting.t2i({ texts: rows.map((b) => captions[b]!), imageIds, labels: imageIds.map((r) => r.map(() => -100)), condDropoutProb: 0 });
    const T = p.inputIds[0]!.length;
    const allow = createAttentionMaskPredictNext(p.inputIds, maskTokenIds(s.prompting), { rmPadInImage: true });
    const probs = tf.tidy(() => {
      const logits = this.showo.forward(tf.tensor2d(p.inputIds.flatMap((r) => Array.from(r)), [rows.length, T], 'int32'), allow);
      // Image tokens sit just before <|eoi|>; their logits are read unshifted, as the t2i loss does.
      return tf.softmax(logits.slice([0, T - N - 1, layout.imageOffset], [rows.length, N, K])).dataSync() as Float32Array;
    });
    let changed = 0;
    rows.forEach((b, r) => {
      for (let i = 0; i < N; i++) {
        if (!masks[b]![i]) continue;
        let u = rng.next();
        let k = 0;
        const base = (r * N + i) * K;
        for (; k < K - 1; k++) {
          u -= probs[base + k]!;
          if (u <= 0) break;
        }
        if (k !== out[b]![i]) changed++;
        out[b]![i] = k;
      }
    });
    return { codes: out, changed };
  }

  dispose(): void {
    this.showo.dispose();
  }
}

/**
 * An endless, resumable stream of image batches with the codes the decoder should read: t2i scenes with their
 * captions (and how-to keyframes, described), encoded by the frozen tokenizer and corrupted by {@link ShowoCodeNoise}.
 */
export class NoisyCodeData implements Iterator<ImageBatch>, Iterable<ImageBatch> {
  private readonly rng: SeededRandom;
  private index = 0;
  /** Codes the noise changed in the last batch. */
  lastChanged = 0;
  constructor(
    private readonly noise: ShowoCodeNoise,
    private readonly tokenizer: MagvitTokenizer,
    private readonly options: CodeNoiseOptions & { seed: number; batch: number; howtoWeight: number },
  ) {
    this.rng = new SeededRandom(options.seed);
  }
  [Symbol.iterator](): Iterator<ImageBatch> {
    return this;
  }
  /** Scenes and captions of one batch (t2i samples; how-to keyframes with their description). */
  private scenes(): { scene: Scene; caption: string }[] {
    return Array.from({ length: this.options.batch }, () => {
      if (this.rng.next() < this.options.howtoWeight) {
        const steps = sampleHowto(this.rng).steps;
        const scene = steps[Math.floor(this.rng.next() * steps.length)]!.scene;
        return { scene, caption: describeScene(scene) ?? '' };
      }
      const t = sampleT2i(this.rng);
      return { scene: t.scene, caption: t.caption };
    });
  }
  next(): IteratorResult<ImageBatch> {
    const items = this.scenes();
    const n = CANVAS_SIZE * CANVAS_SIZE * 3;
    const pixels = new Float32Array(items.length * n);
    items.forEach((it, b) => {
      const rgb = renderScene(it.scene);
      for (let i = 0; i < n; i++) pixels[b * n + i] = rgb[i]! / 127.5 - 1;
    });
    const own = tf.tidy(() => {
      const x = tf.tensor4d(pixels, [items.length, CANVAS_SIZE, CANVAS_SIZE, 3]);
      return this.tokenizer.encodeToCodes(x).dataSync() as Int32Array;
    });
    const N = own.length / items.length;
    const rows = items.map((_, b) => own.slice(b * N, (b + 1) * N));
    const { codes, changed } = this.noise.corrupt(rows, items.map((it) => it.caption), this.rng, this.options);
    this.lastChanged = changed;
    const flat = new Int32Array(own.length);
    codes.forEach((c, b) => flat.set(c, b * N));
    this.index++;
    return { done: false, value: { batch: items.length, size: CANVAS_SIZE, pixels, codes: flat } };
  }
  getState(): JsonValue {
    return { rng: this.rng.getState().map((v) => (Number.isNaN(v) ? null : v)), index: this.index };
  }
  setState(state: JsonValue): void {
    const s = state as { rng: number[]; index: number };
    this.rng.setState(s.rng);
    this.index = s.index;
  }
}

/**
 * How well a decoder renders corrupted codes: the detector agreement between each scene and its decoded image,
 * every scene's codes corrupted at a rate drawn uniformly up to 2·`rate` (fixed seed, so checkpoints compare).
 */
export function noisyGate(
  tokenizer: MagvitTokenizer,
  noise: ShowoCodeNoise,
  items: readonly { scene: Scene; caption: string }[],
  rate: number,
): number {
  const rng = new SeededRandom(4242);
  let agree = 0;
  for (let i = 0; i < items.length; i += 32) {
    const part = items.slice(i, i + 32);
    const originals = part.map((it) => renderScene(it.scene));
    const own = tf.tidy(() => {
      const n = CANVAS_SIZE * CANVAS_SIZE * 3;
      const px = new Float32Array(part.length * n);
      originals.forEach((o, b) => o.forEach((v, j) => (px[b * n + j] = v / 127.5 - 1)));
      return tokenizer.encodeToCodes(tf.tensor4d(px, [part.length, CANVAS_SIZE, CANVAS_SIZE, 3])).dataSync() as Int32Array;
    });
    const N = own.length / part.length;
    const { codes } = noise.corrupt(
      part.map((_, b) => own.slice(b * N, (b + 1) * N)),
      part.map((it) => it.caption),
      rng,
      { share: 1, maxRate: rate * 2 },
    );
    const decoded = tf.tidy(() => tensorToBytes(tokenizer.decodeCodes(codes)));
    part.forEach((_, b) => {
      if (objectKey(originals[b]!) === objectKey(decoded[b]!)) agree++;
    });
  }
  return agree / items.length;
}

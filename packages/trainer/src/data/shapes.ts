import { InvalidArgumentError, SeededRandom } from '@showo/runtime';
import type { TextInput, UniversalPrompting } from '@showo/prompting';
import {
  CANVAS_SIZE,
  SIZE_PIXELS,
  questionsAbout,
  renderScene,
  sampleClass,
  sampleHowto,
  sampleLm,
  sampleMmu,
  sampleT2i,
  type GeneratorOptions,
  type Scene,
  type SceneObject,
} from '@showo/shapes-world';
import { buildHowtoBatch, buildShowoBatch, type ShowoBatch, type ShowoBatchOptions } from '../showo/batch.js';
import { buildInterleavedHowtoBatch } from '../showo/howto.js';
import type { JsonValue, Stateful } from '../types.js';
import { CodeCache, type ImageEncoder } from './encoder.js';

/** Relative weights of a mix; missing keys count 0. */
export type Mix<K extends string> = Partial<Record<K, number>>;

/** What the Shapes World Show-o stream produces. */
export interface ShapesWorldDataOptions {
  /** Prompt builders with the text tokenizer (texts are strings of the Shapes World language). */
  prompting: UniversalPrompting;
  /** Image tokenizer, or a {@link CodeCache} around one (shared caches avoid re-encoding across streams). */
  encoder: ImageEncoder | CodeCache;
  seed: number;
  /** Rows per mixed batch of each kind (t2i rows first, then lm, then mmu). */
  batch: { t2i?: number; lm?: number; mmu?: number };
  /**
   * What the t2i rows show: `class` (one object, prompt = its shape word: stage-1 class-conditional generation)
   * and/or `caption` (a caption of the language and a scene satisfying it). Default `{ caption: 1 }`.
   */
  t2iMix?: Mix<'class' | 'caption'>;
  /**
   * What the mmu rows ask: `caption` (captioning: the text is a caption of the image) and/or `qa` (a question and
   * its answer, `"<question> <answer>"`). Default `{ caption: 1 }`.
   */
  mmuMix?: Mix<'caption' | 'qa'>;
  /**
   * Question–answer pairs per `qa` row (default 1). With more, further questions about the same image follow the
   * first, each pair ended by EOS (`q₁ a₁ EOS q₂ a₂ EOS …`), as many as fit the text budget (`max_seq_length`):
   * several answers of supervision for one image's tokens. The first pair is exactly the one-pair row, so the
   * inference prompt (`q₁` → answer, EOS) is unchanged.
   */
  qaPerRow?: number;
  /**
   * Interleave how-to batches: every `every`-th batch is one of `batch` how-to sequences. `text: true` also trains
   * next-token prediction on the step texts (and the end marker) with {@link buildInterleavedHowtoBatch}, which
   * free-mode how-to generation needs; default false (keyframes only, {@link buildHowtoBatch}).
   */
  howto?: { batch: number; every: number; text?: boolean };
  /** Passed to the Shapes World samplers (weights of caption/question/lm kinds). Held-out compositions are never allowed. */
  generator?: Omit<GeneratorOptions, 'allowHeldOut'>;
  /** Image-token masking and caption dropout of t2i rows. */
  corruption?: ShowoBatchOptions;
}

/**
 * The token-grid cells (row-major, `side`×`side` over the canvas) whose patch meets an object's bounding box, grown
 * by `margin` patches.
 */
export function objectRegionCells(objects: readonly SceneObject[], side: number, margin = 0): number[] {
  const patch = CANVAS_SIZE / side;
  const cells = new Set<number>();
  for (const o of objects) {
    const half = SIZE_PIXELS[o.size] / 2;
    const lo = (v: number) => Math.max(0, Math.floor((v - half) / patch) - margin);
    const hi = (v: number) => Math.min(side - 1, Math.floor((v + half) / patch) + margin);
    for (let y = lo(o.cy); y <= hi(o.cy); y++) for (let x = lo(o.cx); x <= hi(o.cx); x++) cells.add(y * side + x);
  }
  return [...cells].sort((a, b) => a - b);
}

/**
 * The region a t2i row masks in the object-region mode: each object with probability 3/4 (at least one), each
 * grown by 0 or 1 patch — so the model also learns to complete a scene whose other objects are already drawn.
 */
export function sampleObjectRegion(scene: Scene, side: number, rng: SeededRandom): number[] {
  const objs = scene.objects;
  if (objs.length === 0) return [];
  const chosen = objs.filter(() => rng.next() < 0.75);
  if (chosen.length === 0) chosen.push(objs[Math.min(objs.length - 1, Math.floor(rng.next() * objs.length))]!);
  const cells = new Set<number>();
  for (const o of chosen) for (const c of objectRegionCells([o], side, rng.next() < 0.5 ? 0 : 1)) cells.add(c);
  return [...cells].sort((a, b) => a - b);
}

/** Canonical key of a scene (for the code cache). */
export function sceneKey(scene: Scene): string {
  return JSON.stringify(scene.objects.map((o) => [o.shape, o.color, o.size, o.cx, o.cy]));
}

function pickFrom<K extends string>(rng: SeededRandom, mix: Mix<K>): K {
  let total = 0;
  for (const k in mix) total += Math.max(0, mix[k] ?? 0);
  if (!(total > 0)) throw new InvalidArgumentError(`mix ${JSON.stringify(mix)} has no positive weight`);
  let u = rng.next() * total;
  let last: K | undefined;
  for (const k in mix) {
    const w = Math.max(0, mix[k] ?? 0);
    if (w === 0) continue;
    last = k;
    if (u < w) return k;
    u -= w;
  }
  return last!;
}

/**
 * An endless, resumable stream of Show-o training batches drawn from Shapes World: scenes and texts from the
 * `@showo/shapes-world` samplers (never a held-out composition), images rendered and tokenized through a
 * {@link CodeCache}, prompts and masks built with {@link buildShowoBatch} / {@link buildHowtoBatch}.
 *
 * Two generators make it deterministic and resumable: one for the samples, one for the corruption (masking and
 * caption dropout); `getState`/`setState` save and restore both and the batch counter.
 */
export class ShapesWorldShowoData implements AsyncIterator<ShowoBatch>, AsyncIterable<ShowoBatch>, Stateful {
  readonly cache: CodeCache;
  private readonly sampleRng: SeededRandom;
  private readonly noiseRng: SeededRandom;
  /** Draws of `qaPerRow` packing: separate, so that packing leaves the sampled scenes and texts unchanged. */
  private readonly packRng: SeededRandom;
  private index = 0;
  private readonly gen: GeneratorOptions;

  constructor(private readonly o: ShapesWorldDataOptions) {
    if (!o.prompting.tokenizer) throw new InvalidArgumentError('the Shapes World stream needs prompting with a text tokenizer');
    if ((o.generator as GeneratorOptions | undefined)?.allowHeldOut) throw new InvalidArgumentError('training data must never contain the held-out compositions');
    const b = o.batch;
    if ((b.t2i ?? 0) + (b.lm ?? 0) + (b.mmu ?? 0) === 0 && !o.howto) throw new InvalidArgumentError('batch sizes are all zero');
    if (o.howto && !(Number.isInteger(o.howto.every) && o.howto.every >= 1 && o.howto.batch >= 1)) {
      throw new InvalidArgumentError(`howto needs batch ≥ 1 and every ≥ 1, got ${JSON.stringify(o.howto)}`);
    }
    this.cache = o.encoder instanceof CodeCache ? o.encoder : new CodeCache(o.encoder, CANVAS_SIZE);
    if (this.cache.encoder.tokensPerImage !== o.prompting.numVqTokens) {
      throw new InvalidArgumentError(`the image encoder gives ${this.cache.encoder.tokensPerImage} codes per image, the prompts expect ${o.prompting.numVqTokens}`);
    }
    if (this.cache.encoder.codebookSize > o.prompting.layout.codebookSize) {
      throw new InvalidArgumentError(`the image encoder has ${this.cache.encoder.codebookSize} codes, the model's codebook ${o.prompting.layout.codebookSize}`);
    }
    const seeds = new SeededRandom(o.seed);
    this.sampleRng = seeds.fork();
    this.noiseRng = seeds.fork();
    this.packRng = seeds.fork();
    this.gen = { ...(o.generator ?? {}), allowHeldOut: false };
  }

  /** Batches produced so far. */
  get position(): number {
    return this.index;
  }

  [Symbol.asyncIterator](): AsyncIterator<ShowoBatch> {
    return this;
  }

  async next(): Promise<IteratorResult<ShowoBatch>> {
    const howto = this.o.howto;
    const isHowto = !!howto && (this.index + 1) % howto.every === 0;
    this.index++;
    return { done: false, value: isHowto ? await this.howtoBatch(howto!.batch) : await this.mixedBatch() };
  }

  private async codesOf(scenes: readonly Scene[]): Promise<number[][]> {
    const offset = this.o.prompting.layout.imageOffset;
    const codes = await this.cache.encode(scenes.map((s) => ({ key: sceneKey(s), render: () => renderScene(s) })));
    return codes.map((c) => Array.from(c, (x) => x + offset));
  }

  /** The text of a `qa` row: the sampled pair, then (with `qaPerRow` > 1) more pairs about the scene that fit. */
  private packQuestions(scene: Scene, first: string, firstQuestion: string): TextInput {
    const extra = (this.o.qaPerRow ?? 1) - 1;
    const tokenizer = this.o.prompting.tokenizer;
    if (extra <= 0 || !tokenizer) return first;
    const eos = this.o.prompting.layout.eosId;
    // BOS + text + EOS must fit max_seq_length (the mmu prompt's text budget).
    const budget = this.o.prompting.maxSeqLength - 2;
    const ids = tokenizer.encode(first);
    let added = 0;
    for (const q of questionsAbout(scene, this.packRng)) {
      if (added >= extra) break;
      if (q.question === firstQuestion) continue;
      const more = tokenizer.encode(`${q.question} ${q.answer}`);
      if (ids.length + 1 + more.length > budget) continue;
      ids.push(eos, ...more);
      added++;
    }
    return ids;
  }

  private async mixedBatch(): Promise<ShowoBatch> {
    const rng = this.sampleRng;
    const b = this.o.batch;
    const t2iMix = this.o.t2iMix ?? { caption: 1 };
    const mmuMix = this.o.mmuMix ?? { caption: 1 };
    const t2i: Array<{ scene: Scene; text: string }> = [];
    for (let i = 0; i < (b.t2i ?? 0); i++) {
      if (pickFrom(rng, t2iMix) === 'class') {
        const s = sampleClass(rng, this.gen);
        t2i.push({ scene: s.scene, text: s.label });
      } else {
        const s = sampleT2i(rng, this.gen);
        t2i.push({ scene: s.scene, text: s.caption });
      }
    }
    const lm: string[] = [];
    for (let i = 0; i < (b.lm ?? 0); i++) lm.push(sampleLm(rng, this.gen).text);
    const mmu: Array<{ scene: Scene; text: TextInput }> = [];
    for (let i = 0; i < (b.mmu ?? 0); i++) {
      if (pickFrom(rng, mmuMix) === 'qa') {
        const s = sampleMmu(rng, this.gen);
        mmu.push({ scene: s.scene, text: this.packQuestions(s.scene, `${s.question} ${s.answer}`, s.question) });
      } else {
        const s = sampleT2i(rng, this.gen);
        mmu.push({ scene: s.scene, text: s.caption });
      }
    }
    const codes = await this.codesOf([...t2i.map((x) => x.scene), ...mmu.map((x) => x.scene)]);
    const side = Math.round(Math.sqrt(this.o.prompting.numVqTokens));
    // Region choices come from the corruption generator, and only when the mode is on (streams stay as they were).
    const regions = this.o.corruption?.masking?.objectRegionProb ? t2i.map((x) => sampleObjectRegion(x.scene, side, this.noiseRng)) : undefined;
    return buildShowoBatch(
      this.o.prompting,
      {
        ...(t2i.length ? { t2i: { texts: t2i.map((x) => x.text), imageIds: codes.slice(0, t2i.length), ...(regions ? { objectRegions: regions } : {}) } } : {}),
        ...(lm.length ? { lm: { texts: lm } } : {}),
        ...(mmu.length ? { mmu: { texts: mmu.map((x) => x.text), imageIds: codes.slice(t2i.length) } } : {}),
      },
      this.noiseRng,
      this.o.corruption,
    );
  }

  private async howtoBatch(n: number): Promise<ShowoBatch> {
    const samples = Array.from({ length: n }, () => sampleHowto(this.sampleRng, this.gen));
    const scenes = samples.flatMap((s) => s.steps.map((st) => st.scene as Scene));
    const codes = await this.codesOf(scenes);
    let k = 0;
    const rows = samples.map((s) => ({ question: s.question, steps: s.steps.map((st) => ({ text: st.text, imageIds: codes[k++] })) }));
    // Keyframes are masked as officially: the object-region mode applies to t2i rows only.
    const { objectRegionProb: _regions, ...masking } = this.o.corruption?.masking ?? {};
    const options = this.o.corruption?.masking ? { masking } : {};
    if (this.o.howto?.text) return buildInterleavedHowtoBatch(this.o.prompting, rows, this.noiseRng, options);
    return buildHowtoBatch(this.o.prompting, rows, this.noiseRng, options);
  }

  getState(): JsonValue {
    const enc = (r: SeededRandom) => r.getState().map((v) => (Number.isNaN(v) ? null : v));
    return { sample: enc(this.sampleRng), noise: enc(this.noiseRng), pack: enc(this.packRng), index: this.index };
  }

  setState(state: JsonValue): void {
    const s = state as { sample?: number[]; noise?: number[]; pack?: number[]; index?: number };
    if (!s || !Array.isArray(s.sample) || !Array.isArray(s.noise) || typeof s.index !== 'number') {
      throw new InvalidArgumentError('not a Shapes World stream state');
    }
    this.sampleRng.setState(s.sample);
    this.noiseRng.setState(s.noise);
    // States saved before packing existed have no `pack`: the packing generator then starts fresh.
    if (Array.isArray(s.pack)) this.packRng.setState(s.pack);
    this.index = s.index;
  }
}

/**
 * What every MaskGIT task shares: option validation, prompt building (the official `t2i_gen` format, cond rows
 * then empty-prompt rows for classifier-free guidance, mask `predict_next(rm_pad_in_image=True)`), one MaskGIT
 * pass over a window of the model's token grid, and image input/output through the codec.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, SeededRandom, type UniformSource } from '@showo/runtime';
import { createAttentionMaskPredictNext, type AllowMask } from '@showo/omni-attention';
import type { TextInput, UniversalPrompting } from '@showo/prompting';
import { MASKED, MASKGIT_DEFAULTS } from '../constants.js';
import { ImageSizeMismatchError, InvalidSamplingOptionError, ModelOutputError, PromptBudgetError } from '../errors.js';
import { MaskGitScheduler, type MaskGitState, type MaskGitStepOutput } from '../maskgit.js';
import type { MaskScheduleSpec } from '../schedules.js';
import { openImageSession, type CacheMode, type ImageLogitsSession, type ImageModel, type ImageSessionInput } from '../sessions.js';
import type { GenerationContext } from '../stream.js';
import type { ImageCodec, RgbImage, TokenGrid } from '../types.js';

/** What the image pipelines are built from. */
export interface ImagePipelineDeps {
  /** The transformer (showo-core's `ShowoModel`, a user's own {@link SequenceLogitsModel}, or an {@link ImageLogitsModel}). */
  model: ImageModel;
  /** Prompt builder: token layout, `max_seq_length`, N, and the text tokenizer for string prompts. */
  prompting: UniversalPrompting;
  /** Token grid of the model's images (default: square, √N × √N). */
  grid?: TokenGrid;
  /** Images ↔ codes, for image inputs, previews and decoded results. */
  codec?: ImageCodec;
  /**
   * Longest sequence the model may be given (its position budget). Default: `model.config.max_position_embeddings`
   * when the model exposes it, else unlimited.
   */
  maxPositions?: number;
  /** Use the model's prefix cache when it has one (default `auto`). */
  cache?: CacheMode;
  /** Uniform source when a request names none (default: `SeededRandom(request.seed ?? 0)`). */
  uniforms?: UniformSource;
}

/** The part of the deps that image input/output and prompt building need. */
export type ImageIoDeps = Pick<ImagePipelineDeps, 'prompting' | 'grid' | 'codec'>;

/** Options every MaskGIT request takes. */
export interface MaskGitRequestOptions {
  /** Denoising steps T (default 18, the official `t2i_generate` default). */
  steps?: number;
  /** Mask schedule (default cosine). */
  schedule?: MaskScheduleSpec;
  /** Initial confidence-noise temperature (default 1.0). */
  temperature?: number;
  /** Temperature of the code distribution (default 1.0, the official sampler; see {@link MaskGitScheduler}). */
  codeTemperature?: number;
  /** Classifier-free guidance w: logits = (1+w)·cond − w·uncond (default 0: no unconditional pass). */
  guidanceScale?: number;
  /** Randomness (overrides the pipeline's source and `seed`). */
  uniforms?: UniformSource;
  /** A fresh `SeededRandom(seed)` for this request (wins over the pipeline's source; `uniforms` wins over both). */
  seed?: number;
  /** Cancels the generation (the stream completes). */
  signal?: AbortSignal;
  /** Decode a preview of the current prediction every step (`true`) or every `every` steps; needs a codec. */
  preview?: boolean | { every: number };
  /** Decode the final codes into images (default: true when a codec is available). */
  decode?: boolean;
  /** Cut over-long prompts the official way instead of refusing them with {@link PromptBudgetError}. */
  truncatePrompts?: boolean;
}

/** Validated settings of a MaskGIT request. */
export interface MaskGitSettings {
  scheduler: MaskGitScheduler;
  guidance: number;
  uniforms: UniformSource;
  previewEvery: number;
  decode: boolean;
}

/** The model's token grid (validated against N). */
export function modelGrid(deps: ImageIoDeps): TokenGrid {
  const n = deps.prompting.numVqTokens;
  if (deps.grid) {
    const { height, width } = deps.grid;
    if (!Number.isInteger(height) || !Number.isInteger(width) || height * width !== n) {
      throw new ImageSizeMismatchError('the configured token grid', `${n} image tokens`, `${height}×${width}`);
    }
    return { height, width };
  }
  const s = Math.round(Math.sqrt(n));
  if (s * s !== n) throw new InvalidArgumentError(`${n} image tokens do not form a square grid: configure the pipeline's grid`);
  return { height: s, width: s };
}

/** The model's position budget, if any. */
export function positionBudget(deps: { model: unknown; maxPositions?: number }): number {
  if (deps.maxPositions !== undefined) return deps.maxPositions;
  const cfg = (deps.model as { config?: { max_position_embeddings?: number } }).config;
  return typeof cfg?.max_position_embeddings === 'number' ? cfg.max_position_embeddings : Infinity;
}

/** Validates the request options (typed errors) and resolves the defaults. */
export function resolveMaskGitSettings(deps: ImagePipelineDeps, o: MaskGitRequestOptions): MaskGitSettings {
  const scheduler = new MaskGitScheduler({
    steps: o.steps ?? MASKGIT_DEFAULTS.steps,
    schedule: o.schedule ?? MASKGIT_DEFAULTS.schedule,
    temperature: o.temperature ?? MASKGIT_DEFAULTS.temperature,
    ...(o.codeTemperature !== undefined ? { codeTemperature: o.codeTemperature } : {}),
  });
  const guidance = o.guidanceScale ?? MASKGIT_DEFAULTS.guidanceScale;
  if (!(typeof guidance === 'number' && guidance >= 0 && Number.isFinite(guidance))) {
    throw new InvalidSamplingOptionError('guidanceScale', guidance, 'a finite number ≥ 0');
  }
  let previewEvery = 0;
  if (o.preview === true) previewEvery = 1;
  else if (typeof o.preview === 'object') {
    if (!Number.isInteger(o.preview.every) || o.preview.every < 1) throw new InvalidSamplingOptionError('preview.every', o.preview.every, 'an integer ≥ 1');
    previewEvery = o.preview.every;
  }
  if (previewEvery && !deps.codec) throw new InvalidArgumentError('previews need an image codec (configure the pipeline with one)');
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw new InvalidSamplingOptionError('seed', o.seed, 'an integer');
  const uniforms = o.uniforms ?? (o.seed !== undefined ? undefined : deps.uniforms) ?? new SeededRandom(o.seed ?? 0);
  return { scheduler, guidance, uniforms, previewEvery, decode: (o.decode ?? true) && deps.codec !== undefined };
}

/**
 * Encodes the prompts and checks them against the text budget (`max_text_len` = MSL+1 for
 * `<|t2i|> BOS text EOS`) and the window sequence against the position budget.
 */
export function preparePrompts(deps: ImagePipelineDeps, prompts: readonly TextInput[], truncate: boolean): number[][] {
  if (!Array.isArray(prompts) || prompts.length === 0) throw new InvalidArgumentError('at least one prompt is needed');
  const p = deps.prompting;
  const texts = p.encodeTexts(prompts);
  const bos = p.layout.bosId;
  const limit = p.maxTextLen;
  texts.forEach((t, row) => {
    const len = 2 + (t.length === 0 ? 1 : t[0] === bos ? t.length : t.length + 1);
    if (len > limit && !truncate) throw new PromptBudgetError(row, len, limit, 'text-to-image prompt (<|t2i|> BOS text EOS)');
  });
  const seq = p.t2iSequenceLength;
  const budget = positionBudget(deps);
  if (seq > budget) throw new PromptBudgetError(0, seq, budget, 'image-generation sequence (prompt + image block)');
  return texts;
}

/** Checks code rows: N codes each, in 0 … K−1 (or −1 for masked when allowed). */
export function checkCodes(deps: ImageIoDeps, rows: readonly ArrayLike<number>[], n: number, what: string, allowMasked = false): void {
  const k = deps.prompting.layout.codebookSize;
  rows.forEach((codes, row) => {
    if (codes.length !== n) throw new ImageSizeMismatchError(`${what} of batch row ${row}`, `${n} codes`, `${codes.length} codes`);
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i];
      if (!(Number.isInteger(c) && c < k && (c >= 0 || (allowMasked && c === MASKED)))) {
        throw new InvalidArgumentError(`${what} of batch row ${row} holds ${c} at ${i}, not a code of the ${k}-entry codebook`);
      }
    }
  });
}

/** An image given as codes or as pixels (encoded with the pipeline's codec). */
export type ImageInput = { codes: ArrayLike<number> } | { image: RgbImage };

/** Validates image inputs against a grid (sizes and code ranges, before any work). */
export function checkImageInputs(deps: ImageIoDeps, inputs: readonly ImageInput[], grid: TokenGrid, what: string): void {
  if (!Array.isArray(inputs) || inputs.length === 0) throw new InvalidArgumentError(`${what}: at least one image is needed`);
  inputs.forEach((input, row) => {
    if ('codes' in input) checkCodes(deps, [input.codes], grid.height * grid.width, what);
    else if ('image' in input) {
      const codec = deps.codec;
      if (!codec) throw new InvalidArgumentError(`${what}: images given as pixels need an image codec (or pass codes)`);
      const w = grid.width * codec.patchSize;
      const h = grid.height * codec.patchSize;
      const img = input.image;
      if (img.width !== w || img.height !== h || img.data.length !== w * h * 3) {
        throw new ImageSizeMismatchError(`${what} of batch row ${row}`, `${w}×${h} RGB (${w * h * 3} bytes)`, `${img.width}×${img.height} with ${img.data.length} bytes`);
      }
    } else throw new InvalidArgumentError(`${what} of batch row ${row}: give { codes } or { image }`);
  });
}

/** The codes of image inputs (encoding pixel images with the codec). */
export async function resolveImageCodes(deps: ImageIoDeps, inputs: readonly ImageInput[], grid: TokenGrid): Promise<Int32Array[]> {
  const out: (Int32Array | undefined)[] = inputs.map((i) => ('codes' in i ? Int32Array.from(i.codes) : undefined));
  const pending = inputs.map((i, row) => ({ i, row })).filter(({ i }) => 'image' in i);
  if (pending.length) {
    const encoded = await deps.codec!.encode(pending.map(({ i }) => (i as { image: RgbImage }).image));
    pending.forEach(({ row }, k) => (out[row] = Int32Array.from(encoded[k]!)));
    checkCodes(deps, out as Int32Array[], grid.height * grid.width, 'encoded image');
  }
  return out as Int32Array[];
}

/** One MaskGIT window: the session input for B rows of prompts and their current codes. */
export interface MaskGitWindow {
  input: ImageSessionInput;
  batch: number;
}

/** Builds the model input of a window (cond rows, then uncond rows when guided) and its mask. */
export function buildWindow(deps: Pick<ImagePipelineDeps, 'prompting'>, texts: number[][], codes: Int32Array, guidance: number, truncate: boolean): MaskGitWindow {
  const p = deps.prompting;
  const L = p.layout;
  const b = texts.length;
  const n = p.numVqTokens;
  const imageIds = texts.map((_, r) => Array.from(codes.subarray(r * n, (r + 1) * n), (c) => (c === MASKED ? L.maskId : c + L.imageOffset)));
  const options = { strict: !truncate };
  const rows = p.t2iGen({ texts, imageIds }, options).inputIds;
  // The unconditional prompt is the empty text (`<|t2i|> BOS EOS`, left-padded), as the official inference uses.
  if (guidance > 0) rows.push(...p.t2iGen({ texts: texts.map(() => []), imageIds }, options).inputIds);
  const ids = { padId: L.padId, soiId: L.special('<|soi|>'), eoiId: L.special('<|eoi|>') };
  const allow: AllowMask = createAttentionMaskPredictNext(rows, ids, { rmPadInImage: true });
  const len = rows[0]!.length;
  const prefixLength = len - n - 2;
  const prefixIds = new Int32Array(rows.length * prefixLength);
  rows.forEach((r, i) => prefixIds.set(r.slice(0, prefixLength), i * prefixLength));
  const codebook = { offset: L.imageOffset, size: L.codebookSize };
  return { batch: b, input: { prefixIds, rows: rows.length, prefixLength, numImageTokens: n, allow, guided: guidance > 0, codebook } };
}

/** The image blocks `<|soi|> ids <|eoi|>` of every model row (uncond rows repeat the cond rows' tokens). */
export function imageBlocks(deps: Pick<ImagePipelineDeps, 'prompting'>, state: MaskGitState, rows: number): Int32Array {
  const L = deps.prompting.layout;
  const n = state.numTokens;
  const soi = L.special('<|soi|>');
  const eoi = L.special('<|eoi|>');
  const out = new Int32Array(rows * (n + 2));
  for (let r = 0; r < rows; r++) {
    const b = r % state.batch;
    const o = r * (n + 2);
    out[o] = soi;
    for (let i = 0; i < n; i++) {
      const c = state.codes[b * n + i]!;
      out[o + 1 + i] = c === MASKED ? L.maskId : c + L.imageOffset;
    }
    out[o + n + 1] = eoi;
  }
  return out;
}

/**
 * Codebook probabilities [B·N, K] for the current state: image-position logits, classifier-free guidance
 * `(1+w)·cond − w·uncond`, the codebook columns only, softmax (no temperature: the official code applies none).
 */
export async function imageProbabilities(
  deps: Pick<ImagePipelineDeps, 'prompting'>,
  session: ImageLogitsSession,
  window: MaskGitWindow,
  state: MaskGitState,
  guidance: number,
): Promise<Float32Array> {
  const L = deps.prompting.layout;
  const k = L.codebookSize;
  const n = state.numTokens;
  const b = window.batch;
  const logits = await session.imageLogits(imageBlocks(deps, state, window.input.rows));
  let probs: tf.Tensor;
  try {
    const column = L.imageOffset - (session.firstColumn ?? 0);
    const [rows, positions, columns] = logits.shape;
    if (column < 0 || column + k > columns || positions !== n || rows !== window.input.rows) {
      throw new ModelOutputError(
        `image logits are [${logits.shape.join(', ')}] starting at vocabulary id ${session.firstColumn ?? 0}; expected [${window.input.rows}, ${n}, ·] covering the codebook ids ${L.imageOffset} … ${L.imageOffset + k - 1}`,
      );
    }
    probs = tf.tidy(() => {
      let img: tf.Tensor3D = column === 0 && columns === k ? logits : tf.slice(logits, [0, 0, column], [rows, n, k]);
      if (guidance > 0) {
        const cond = tf.slice(img, [0, 0, 0], [b, n, k]);
        const uncond = tf.slice(img, [b, 0, 0], [b, n, k]);
        img = tf.sub(tf.mul(cond, 1 + guidance), tf.mul(uncond, guidance));
      }
      return tf.softmax(img);
    });
  } finally {
    logits.dispose();
  }
  try {
    return (await probs.data()) as Float32Array;
  } finally {
    probs.dispose();
  }
}

/** Disposes a session once, however often asked (the stream and the loop may both try). */
export function disposeOnce(session: ImageLogitsSession): ImageLogitsSession & { dispose(): void } {
  let done = false;
  return {
    get cached() {
      return session.cached;
    },
    get firstColumn() {
      return session.firstColumn;
    },
    imageLogits: (block) => session.imageLogits(block),
    dispose: () => {
      if (!done) {
        done = true;
        session.dispose();
      }
    },
  };
}

/**
 * Runs one MaskGIT pass over a window, calling `onStep` after every step (it emits the event), yielding to the
 * event loop between steps. Returns the last step's output.
 */
export async function runMaskGitPass(
  ctx: GenerationContext<unknown>,
  deps: ImagePipelineDeps,
  settings: MaskGitSettings,
  window: MaskGitWindow,
  initial: MaskGitState,
  onStep: (out: MaskGitStepOutput) => void | Promise<void>,
): Promise<MaskGitStepOutput> {
  const session = ctx.own(disposeOnce(openImageSession(deps.model, window.input, deps.cache ?? 'auto')));
  try {
    let state = initial;
    let out: MaskGitStepOutput | undefined;
    for (let s = 0; s < settings.scheduler.steps; s++) {
      const probs = await imageProbabilities(deps, session, window, state, settings.guidance);
      out = settings.scheduler.step(probs, state, settings.uniforms);
      state = out.state;
      await onStep(out);
      await ctx.yield();
    }
    return out!;
  } finally {
    session.dispose();
  }
}

/** Whether a session for this model would use the prefix cache (for the start event). */
export function usesCache(deps: ImagePipelineDeps): boolean {
  const m = deps.model as { prefill?: unknown; openImageSession?: unknown };
  return (deps.cache ?? 'auto') === 'auto' && typeof m.prefill === 'function';
}

/** Splits a flat [B·N] array into per-row copies. */
export function rowsOf(flat: Int32Array, batch: number): Int32Array[] {
  const n = flat.length / batch;
  return Array.from({ length: batch }, (_, b) => flat.slice(b * n, (b + 1) * n));
}

/** Decodes codes with the codec (undefined without one). */
export async function decodeCodes(deps: Pick<ImagePipelineDeps, 'codec'>, codes: Int32Array[], grid: TokenGrid): Promise<RgbImage[] | undefined> {
  if (!deps.codec) return undefined;
  return deps.codec.decode(codes, grid);
}

import { InvalidArgumentError, type UniformSource } from '@showo/runtime';
import { IGNORE_ID } from './constants.js';
import { ImageTokenCountError, PromptTooLongError } from './errors.js';
import type { TokenLayout } from './layout.js';
import type { TextTokenizer } from './types.js';

/** Sizes and switches of the prompt formats (the official `UniversalPrompting` constructor arguments). */
export interface PromptingConfig {
  /**
   * `max_seq_length` (MSL). The t2i/lvg text part is `max_text_len = MSL + 1` long (task token included), the mmu
   * text part MSL.
   */
  maxSeqLength: number;
  /** `num_vq_tokens` N: image tokens per image. Every image-token list must have exactly N entries. */
  numVqTokens: number;
  /** Probability of replacing a t2i/lvg training caption by the empty prompt (official default 0.1). */
  condDropoutProb?: number;
  /** Label value for positions without a target (official -100). */
  ignoreId?: number;
  /** Reject over-long prompts with {@link PromptTooLongError} instead of truncating the official way. Default false. */
  strict?: boolean;
}

/** A text as a string (encoded with the prompting's text tokenizer) or as ids the tokenizer already produced. */
export type TextInput = string | readonly number[];
/** A list of token ids. */
export type IdsInput = ArrayLike<number>;

/** Per-call options. */
export interface CallOptions {
  /** Overrides {@link PromptingConfig.strict} for this call. */
  strict?: boolean;
}

/**
 * A batch of prompts. All rows have the same length.
 *
 * `attentionMask` is a sensible 1-D mask: 1 for a real token, 0 for `[PAD]`. (The official builder's 1-D masks
 * are all ones through a bug, sometimes of the wrong length, and never used; they are not reproduced.) The 4-D
 * attention masks come from `@showo/omni-attention`, following the task's attention rule.
 */
export interface PromptBatch {
  task: string;
  /** `[B][L]` token ids. */
  inputIds: number[][];
  /** `[B][L]` targets, `ignoreId` where there is none (training builders only). */
  labels?: number[][];
  /** `[B][L]`: 1 = token, 0 = padding. */
  attentionMask: number[][];
  /** Training t2i/lvg: which rows had their caption dropped to the empty prompt. */
  conditionDropped?: boolean[];
}

/** Input of the t2i / lvg generation prompt. */
export interface T2iGenInput {
  texts: readonly TextInput[];
  /** `[B][N]` image token ids (codes + offset, or `[MASK]`). */
  imageIds: readonly IdsInput[];
  /** Task token to start the prompt with; default `<|t2i|>` (also for lvg, as the official code does). */
  taskToken?: string;
}

/** Input of the t2i / lvg training prompt. */
export interface T2iTrainInput extends T2iGenInput {
  /** `[B][N]` image labels: the true image token id at masked positions, `ignoreId` elsewhere. */
  labels: readonly IdsInput[];
  /** Overrides {@link PromptingConfig.condDropoutProb}. */
  condDropoutProb?: number;
  /** One uniform in [0,1) per row (the official `torch.rand(B)`); row i is dropped iff `u_i < p` in float32. */
  dropoutUniforms?: readonly number[];
  /** Source of the uniforms when `dropoutUniforms` is not given (one draw per row, in row order). */
  random?: UniformSource;
}

/** Input of the language-modelling prompt. */
export interface LmInput {
  texts: readonly TextInput[];
  /** Row length; default the t2i sequence length `MSL + 1 + N + 2`, what train.py passes. */
  maxSeqLen?: number;
}

/** Input of the multimodal-understanding prompt. */
export interface MmuInput {
  /** `[B][N]` image token ids. */
  imageIds: readonly IdsInput[];
  texts: readonly TextInput[];
  /** Default `<|mmu|>`. */
  taskToken?: string;
}

/** One step of an interleaved sequence: a text, optionally followed by an image. */
export interface InterleavedItem {
  text: TextInput;
  /** N image token ids (may contain `[MASK]`). Required on the first item of a row. */
  imageIds?: IdsInput;
  /** N image labels; labels are returned only when every image of the batch has them. */
  imageLabels?: IdsInput;
}

/** Input of {@link UniversalPrompting.interleaved}. */
export interface InterleavedInput {
  /** `[B]` rows, each a list of items. */
  rows: readonly (readonly InterleavedItem[])[];
  /** Right-pad every row to this length (default: the longest row). */
  padTo?: number;
  /** Default `<|t2i|>`. */
  taskToken?: string;
}

/** Input of {@link UniversalPrompting.inpainting}. */
export interface InpaintingInput extends T2iGenInput {
  /** `[B][N]` truthy where the image token is to be regenerated (replaced by `[MASK]`). */
  regions: readonly ArrayLike<boolean | number>[];
}

/** Direction in which {@link UniversalPrompting.extrapolation} extends the canvas. */
export type ExtrapolationDirection = 'left' | 'right' | 'up' | 'down';

/** Input of {@link UniversalPrompting.extrapolation}. */
export interface ExtrapolationInput extends T2iGenInput {
  /** Token grid of the image (`height * width = N`, row-major). */
  grid: { height: number; width: number };
  direction: ExtrapolationDirection;
  /** Number of token columns (left/right) or rows (up/down) of new canvas. */
  shift: number;
}

/**
 * Replaces the image tokens where `region` is truthy by `maskId` (inpainting: those tokens are regenerated).
 */
export function maskImageRegion(imageIds: IdsInput, region: ArrayLike<boolean | number>, maskId: number): number[] {
  if (region.length !== imageIds.length) {
    throw new InvalidArgumentError(`inpainting region has ${region.length} entries, the image ${imageIds.length} tokens`);
  }
  return Array.from(imageIds, (id, i) => (region[i] ? maskId : id));
}

/**
 * Shifts an image's tokens on its grid so that `shift` new columns/rows of `[MASK]` open on the side of
 * `direction` (extrapolation / outpainting): `right` keeps the right part of the image at the left and masks the
 * last `shift` columns, `left` the opposite, `down`/`up` likewise for rows.
 */
export function shiftForExtrapolation(
  imageIds: IdsInput,
  grid: { height: number; width: number },
  direction: ExtrapolationDirection,
  shift: number,
  maskId: number,
): number[] {
  const { height: h, width: w } = grid;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1 || h * w !== imageIds.length) {
    throw new InvalidArgumentError(`grid ${h}×${w} does not hold ${imageIds.length} image tokens`);
  }
  const span = direction === 'left' || direction === 'right' ? w : h;
  if (!Number.isInteger(shift) || shift < 0 || shift > span) throw new InvalidArgumentError(`shift ${shift} must be an integer in 0..${span}`);
  const out = new Array<number>(h * w).fill(maskId);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      let sr = r;
      let sc = c;
      if (direction === 'right') sc = c + shift;
      else if (direction === 'left') sc = c - shift;
      else if (direction === 'down') sr = r + shift;
      else sr = r - shift;
      if (sr >= 0 && sr < h && sc >= 0 && sc < w) out[r * w + c] = imageIds[sr * w + sc]!;
    }
  }
  return out;
}

/**
 * Show-o's prompt formats, reproducing the official `UniversalPrompting.__call__` (training/prompting_utils.py)
 * id for id, batch-aware, with typed errors where the official code would silently misbehave.
 *
 * Formats (`MTL = max_text_len = MSL + 1`, N image tokens, `⟨…⟩` special tokens):
 * - t2i / lvg (training and generation): `[PAD]* ⟨t2i⟩ BOS text EOS` left-padded to MTL, then `⟨soi⟩ image ⟨eoi⟩`.
 *   BOS is prepended only if the text does not start with it; empty text becomes `BOS`. Over-long: cut to the
 *   first MTL−1 tokens and EOS appended. Training labels are the same ids with `[PAD]` → ignore, then `⟨soi⟩`, the
 *   image labels, `⟨eoi⟩`. Official lvg uses the `<|t2i|>` token too.
 * - lm: `BOS text EOS` right-padded with `[PAD]` to `maxSeqLen`; labels = ids with padding → ignore. Over-long:
 *   cut to `maxSeqLen`, no EOS. (The official code prepends the EOS id when the text lacks BOS; identical for Phi
 *   and the word tokenizer, where BOS = EOS.)
 * - mmu: `⟨mmu⟩ ⟨soi⟩ image ⟨eoi⟩ BOS text EOS`, the text part right-padded to MSL. Over-long: first MSL−1 tokens
 *   and EOS. Labels: ignore for the first N+3 positions, then the text ids (`[PAD]` → ignore).
 */
export class UniversalPrompting {
  readonly layout: TokenLayout;
  readonly tokenizer: TextTokenizer | undefined;
  readonly maxSeqLength: number;
  readonly numVqTokens: number;
  readonly condDropoutProb: number;
  readonly ignoreId: number;
  readonly strict: boolean;

  constructor(layout: TokenLayout, config: PromptingConfig, tokenizer?: TextTokenizer) {
    if (!Number.isInteger(config.maxSeqLength) || config.maxSeqLength < 2) throw new InvalidArgumentError(`maxSeqLength must be an integer ≥ 2, got ${config.maxSeqLength}`);
    if (!Number.isInteger(config.numVqTokens) || config.numVqTokens < 1) throw new InvalidArgumentError(`numVqTokens must be a positive integer, got ${config.numVqTokens}`);
    const p = config.condDropoutProb ?? 0.1;
    if (!(p >= 0 && p <= 1)) throw new InvalidArgumentError(`condDropoutProb must be in [0, 1], got ${p}`);
    if (tokenizer && tokenizer.vocabSize !== layout.llmVocabSize) {
      throw new InvalidArgumentError(`text tokenizer has ${tokenizer.vocabSize} ids but the token layout's llm_vocab_size is ${layout.llmVocabSize}`);
    }
    this.layout = layout;
    this.tokenizer = tokenizer;
    this.maxSeqLength = config.maxSeqLength;
    this.numVqTokens = config.numVqTokens;
    this.condDropoutProb = p;
    this.ignoreId = config.ignoreId ?? IGNORE_ID;
    this.strict = config.strict ?? false;
  }

  /** `max_text_len` = MSL + 1: length of the t2i text part, task token included. */
  get maxTextLen(): number {
    return this.maxSeqLength + 1;
  }

  /** Length of a t2i / lvg prompt: `MSL + 1 + N + 2`. */
  get t2iSequenceLength(): number {
    return this.maxTextLen + this.numVqTokens + 2;
  }

  /** Length of an mmu training prompt: `3 + N + MSL` (the same as t2i). */
  get mmuSequenceLength(): number {
    return 3 + this.numVqTokens + this.maxSeqLength;
  }

  /** Encodes texts given as strings with the text tokenizer; id lists are validated and copied. */
  encodeTexts(texts: readonly TextInput[]): number[][] {
    return texts.map((t, row) => this.textIds(t, row));
  }

  /** t2i training prompt (official `'t2i'`): condition dropout, left padding, labels. */
  t2i(input: T2iTrainInput, options: CallOptions = {}): PromptBatch {
    return this.textToImageTrain('t2i', input, options);
  }

  /** lvg training prompt (official `'lvg'`): identical to {@link t2i}, `<|t2i|>` token included. */
  lvg(input: T2iTrainInput, options: CallOptions = {}): PromptBatch {
    return this.textToImageTrain('lvg', input, options);
  }

  /** t2i generation prompt (official `'t2i_gen'`); for classifier-free guidance use empty texts as the unconditional prompt. */
  t2iGen(input: T2iGenInput, options: CallOptions = {}): PromptBatch {
    return this.textToImageGen('t2i_gen', input, options);
  }

  /** lvg generation prompt (official `'lvg_gen'`), identical to {@link t2iGen}. */
  lvgGen(input: T2iGenInput, options: CallOptions = {}): PromptBatch {
    return this.textToImageGen('lvg_gen', input, options);
  }

  /** Inpainting: the t2i generation prompt with the image tokens inside each region replaced by `[MASK]`. */
  inpainting(input: InpaintingInput, options: CallOptions = {}): PromptBatch {
    const { regions, ...rest } = input;
    if (regions.length !== input.imageIds.length) throw new InvalidArgumentError(`${regions.length} inpainting regions for ${input.imageIds.length} images`);
    const imageIds = input.imageIds.map((ids, row) => maskImageRegion(this.imageIds(ids, row, 'inpainting image'), regions[row]!, this.layout.maskId));
    return this.textToImageGen('inpainting', { ...rest, imageIds }, options);
  }

  /**
   * Extrapolation (outpainting): the t2i generation prompt with the known image moved on its token grid so that
   * `shift` columns/rows of `[MASK]` open in `direction` (see {@link shiftForExtrapolation}).
   */
  extrapolation(input: ExtrapolationInput, options: CallOptions = {}): PromptBatch {
    const { grid, direction, shift, ...rest } = input;
    const imageIds = input.imageIds.map((ids, row) =>
      shiftForExtrapolation(this.imageIds(ids, row, 'extrapolation image'), grid, direction, shift, this.layout.maskId),
    );
    return this.textToImageGen('extrapolation', { ...rest, imageIds }, options);
  }

  /** Language-modelling prompt (official `'lm'`), right-padded. */
  lm(input: LmInput, options: CallOptions = {}): PromptBatch {
    const maxSeqLen = input.maxSeqLen ?? this.t2iSequenceLength;
    if (!Number.isInteger(maxSeqLen) || maxSeqLen < 1) throw new InvalidArgumentError(`maxSeqLen must be a positive integer, got ${maxSeqLen}`);
    this.checkBatch('lm', input.texts.length);
    const strict = options.strict ?? this.strict;
    const { padId } = this.layout;
    const out = this.emptyBatch('lm', true);
    input.texts.forEach((text, row) => {
      let ids = [...this.lmPrefix(this.textIds(text, row)), this.layout.eosId];
      let labels: number[];
      if (ids.length <= maxSeqLen) {
        const pad = maxSeqLen - ids.length;
        labels = [...ids, ...new Array<number>(pad).fill(this.ignoreId)];
        ids = [...ids, ...new Array<number>(pad).fill(padId)];
      } else {
        if (strict) throw new PromptTooLongError('lm', row, ids.length, maxSeqLen);
        // The official lm prompt truncates without re-appending EOS.
        ids = ids.slice(0, maxSeqLen);
        labels = [...ids];
      }
      this.pushRow(out, ids, labels);
    });
    return out;
  }

  /** Multimodal-understanding training prompt (official `'mmu'`): image first, then the text right-padded to MSL. */
  mmu(input: MmuInput, options: CallOptions = {}): PromptBatch {
    this.checkBatch('mmu', input.texts.length, input.imageIds.length);
    const strict = options.strict ?? this.strict;
    const L = this.layout;
    const task = L.special(input.taskToken ?? '<|mmu|>');
    const maxTextLen = this.maxSeqLength;
    const out = this.emptyBatch('mmu', true);
    input.texts.forEach((text, row) => {
      const image = this.imageIds(input.imageIds[row]!, row, 'mmu image');
      let textPart = [...this.lmPrefix(this.textIds(text, row)), L.eosId];
      if (textPart.length <= maxTextLen) {
        textPart = [...textPart, ...new Array<number>(maxTextLen - textPart.length).fill(L.padId)];
      } else {
        if (strict) throw new PromptTooLongError('mmu', row, textPart.length, maxTextLen);
        textPart = [...textPart.slice(0, maxTextLen - 1), L.eosId];
      }
      const ids = [task, L.special('<|soi|>'), ...image, L.special('<|eoi|>'), ...textPart];
      const labels = [...new Array<number>(image.length + 3).fill(this.ignoreId), ...textPart].map((id) => (id === L.padId ? this.ignoreId : id));
      this.pushRow(out, ids, labels);
    });
    return out;
  }

  /**
   * Multimodal-understanding generation prompt as inference_mmu.py builds it:
   * `⟨mmu⟩ ⟨soi⟩ image ⟨eoi⟩ BOS question…` (BOS always prepended, no EOS, no padding). Rows of different length
   * are left-padded with `[PAD]` so that generation appends at the same position; for such a batch build the mask
   * with the general omni-attention builder (pads isolated), not `create_attention_mask_for_mmu`. Nothing is
   * truncated here, so `_options` has no effect.
   */
  mmuGen(input: MmuInput, _options: CallOptions = {}): PromptBatch {
    this.checkBatch('mmu_gen', input.texts.length, input.imageIds.length);
    const L = this.layout;
    const task = L.special(input.taskToken ?? '<|mmu|>');
    const rows = input.texts.map((text, row) => {
      const image = this.imageIds(input.imageIds[row]!, row, 'mmu image');
      return [task, L.special('<|soi|>'), ...image, L.special('<|eoi|>'), L.bosId, ...this.textIds(text, row)];
    });
    const width = Math.max(...rows.map((r) => r.length));
    const out = this.emptyBatch('mmu_gen', false);
    for (const ids of rows) this.pushRow(out, [...new Array<number>(width - ids.length).fill(L.padId), ...ids]);
    return out;
  }

  /**
   * Interleaved text/image sequence (there is no official builder; this is the layout of the reference
   * `interleaved_lvg` case): the first item as the lvg/t2i generation block (`[PAD]* ⟨t2i⟩ BOS text EOS` left-padded
   * to MTL, then `⟨soi⟩ image ⟨eoi⟩`), then for every further item `BOS text EOS` and, if it has an image,
   * `⟨soi⟩ image ⟨eoi⟩`; rows right-padded with `[PAD]` to the longest row (or `padTo`). Labels (when every image
   * has labels): text ids with padding → ignore, `⟨soi⟩`, the image labels, `⟨eoi⟩`.
   */
  interleaved(input: InterleavedInput, options: CallOptions = {}): PromptBatch {
    this.checkBatch('interleaved', input.rows.length);
    const strict = options.strict ?? this.strict;
    const L = this.layout;
    const soi = L.special('<|soi|>');
    const eoi = L.special('<|eoi|>');
    const task = L.special(input.taskToken ?? '<|t2i|>');
    const withLabels = input.rows.every((items) => items.every((it) => it.imageIds === undefined || it.imageLabels !== undefined));
    const built = input.rows.map((items, row) => {
      if (items.length === 0) throw new InvalidArgumentError(`interleaved row ${row} has no items`);
      const first = items[0]!;
      if (first.imageIds === undefined) throw new InvalidArgumentError(`interleaved row ${row}: the first item needs an image (it is the t2i block)`);
      const ids = this.t2iTextBlock('interleaved', this.textIds(first.text, row), false, task, row, strict);
      const labels = ids.map((id) => (id === L.padId ? this.ignoreId : id));
      items.forEach((item, k) => {
        if (k > 0) {
          const text = [...this.bosPrefix(this.textIds(item.text, row)), L.eosId];
          ids.push(...text);
          labels.push(...text);
        }
        if (item.imageIds !== undefined) {
          ids.push(soi, ...this.imageIds(item.imageIds, row, `interleaved image ${k}`), eoi);
          if (withLabels) labels.push(soi, ...this.imageLabels(item.imageLabels!, row), eoi);
        }
      });
      return { ids, labels };
    });
    const width = input.padTo ?? Math.max(...built.map((b) => b.ids.length));
    const out = this.emptyBatch('interleaved', withLabels);
    built.forEach(({ ids, labels }, row) => {
      if (ids.length > width) throw new PromptTooLongError('interleaved', row, ids.length, width);
      const pad = width - ids.length;
      this.pushRow(out, [...ids, ...new Array<number>(pad).fill(L.padId)], withLabels ? [...labels, ...new Array<number>(pad).fill(this.ignoreId)] : undefined);
    });
    return out;
  }

  // ---- shared pieces of the official formats ----

  private textToImageTrain(task: string, input: T2iTrainInput, options: CallOptions): PromptBatch {
    const B = input.texts.length;
    this.checkBatch(task, B, input.imageIds.length, input.labels.length);
    const strict = options.strict ?? this.strict;
    const p = input.condDropoutProb ?? this.condDropoutProb;
    if (!(p >= 0 && p <= 1)) throw new InvalidArgumentError(`condDropoutProb must be in [0, 1], got ${p}`);
    const dropped = this.dropoutDecisions(p, B, input);
    const L = this.layout;
    const taskId = L.special(input.taskToken ?? '<|t2i|>');
    const out = this.emptyBatch(task, true);
    out.conditionDropped = dropped;
    input.texts.forEach((text, row) => {
      const image = this.imageIds(input.imageIds[row]!, row, `${task} image`);
      const imageLabels = this.imageLabels(input.labels[row]!, row);
      const textPart = this.t2iTextBlock(task, this.textIds(text, row), dropped[row]!, taskId, row, strict);
      const ids = [...textPart, L.special('<|soi|>'), ...image, L.special('<|eoi|>')];
      // As the official code: every label equal to the [PAD] id becomes ignore_id (only the left padding can be).
      const labels = [...textPart, L.special('<|soi|>'), ...imageLabels, L.special('<|eoi|>')].map((id) => (id === L.padId ? this.ignoreId : id));
      this.pushRow(out, ids, labels);
    });
    return out;
  }

  private textToImageGen(task: string, input: T2iGenInput, options: CallOptions): PromptBatch {
    this.checkBatch(task, input.texts.length, input.imageIds.length);
    const strict = options.strict ?? this.strict;
    const L = this.layout;
    const taskId = L.special(input.taskToken ?? '<|t2i|>');
    const out = this.emptyBatch(task, false);
    input.texts.forEach((text, row) => {
      const image = this.imageIds(input.imageIds[row]!, row, `${task} image`);
      const textPart = this.t2iTextBlock(task, this.textIds(text, row), false, taskId, row, strict);
      this.pushRow(out, [...textPart, L.special('<|soi|>'), ...image, L.special('<|eoi|>')]);
    });
    return out;
  }

  /** `[PAD]* ⟨task⟩ BOS text EOS`, left-padded to MTL, or cut to MTL−1 tokens + EOS. */
  private t2iTextBlock(task: string, text: number[], dropped: boolean, taskId: number, row: number, strict: boolean): number[] {
    const L = this.layout;
    const ids = dropped ? [taskId, L.bosId, L.eosId] : [taskId, ...this.bosPrefix(text), L.eosId];
    const mtl = this.maxTextLen;
    if (ids.length <= mtl) return [...new Array<number>(mtl - ids.length).fill(L.padId), ...ids];
    if (strict) throw new PromptTooLongError(task, row, ids.length, mtl);
    return [...ids.slice(0, mtl - 1), L.eosId];
  }

  /** t2i/lvg rule: empty → [BOS]; BOS prepended unless the text starts with it. */
  private bosPrefix(text: number[]): number[] {
    const { bosId } = this.layout;
    if (text.length === 0) return [bosId];
    return text[0] === bosId ? text : [bosId, ...text];
  }

  /** lm/mmu rule: empty → [BOS]; otherwise the official code prepends the *EOS* id unless the text starts with BOS. */
  private lmPrefix(text: number[]): number[] {
    const { bosId, eosId } = this.layout;
    if (text.length === 0) return [bosId];
    return text[0] === bosId ? text : [eosId, ...text];
  }

  private dropoutDecisions(p: number, B: number, input: T2iTrainInput): boolean[] {
    if (p <= 0) return new Array<boolean>(B).fill(false);
    let uniforms: number[];
    if (input.dropoutUniforms !== undefined) {
      if (input.dropoutUniforms.length !== B) throw new InvalidArgumentError(`${input.dropoutUniforms.length} dropout uniforms for a batch of ${B}`);
      uniforms = [...input.dropoutUniforms];
    } else if (input.random !== undefined) {
      uniforms = Array.from({ length: B }, () => input.random!.next());
    } else if (p >= 1) {
      return new Array<boolean>(B).fill(true);
    } else {
      throw new InvalidArgumentError('condition dropout needs dropoutUniforms or a random source (no hidden randomness)');
    }
    // torch.rand is float32 and the Python float is compared in float32 too.
    const pf = Math.fround(p);
    return uniforms.map((u) => {
      if (!(u >= 0 && u < 1)) throw new InvalidArgumentError(`dropout uniform ${u} is not in [0, 1)`);
      return Math.fround(u) < pf;
    });
  }

  private textIds(text: TextInput, row: number): number[] {
    if (typeof text === 'string') {
      if (!this.tokenizer) throw new InvalidArgumentError('texts given as strings need a text tokenizer (or pass token ids)');
      return this.tokenizer.encode(text);
    }
    const ids = Array.from(text);
    for (const id of ids) {
      if (!this.layout.isTextId(id)) throw new InvalidArgumentError(`text of batch row ${row} holds ${id}, which is not a text id (0..${this.layout.llmVocabSize - 1})`);
    }
    return ids;
  }

  private imageIds(ids: IdsInput, row: number, what: string): number[] {
    if (ids.length !== this.numVqTokens) throw new ImageTokenCountError(what, row, this.numVqTokens, ids.length);
    const out = Array.from(ids);
    for (const id of out) {
      if (!this.layout.isImageOrMaskId(id)) {
        throw new InvalidArgumentError(
          `${what} of batch row ${row} holds ${id}, which is neither an image token id (${this.layout.imageOffset}..${this.layout.imageOffset + this.layout.codebookSize - 1}) nor [MASK] (${this.layout.maskId}); convert codes with layout.codesToIds`,
        );
      }
    }
    return out;
  }

  private imageLabels(ids: IdsInput, row: number): number[] {
    if (ids.length !== this.numVqTokens) throw new ImageTokenCountError('image labels', row, this.numVqTokens, ids.length);
    const out = Array.from(ids);
    for (const id of out) {
      if (id !== this.ignoreId && !this.layout.isImageId(id)) {
        throw new InvalidArgumentError(`image labels of batch row ${row} hold ${id}, neither an image token id nor ignore_id ${this.ignoreId}`);
      }
    }
    return out;
  }

  private checkBatch(task: string, ...sizes: number[]): void {
    if (sizes[0] === 0) throw new InvalidArgumentError(`${task} prompt needs at least one batch row`);
    if (sizes.some((s) => s !== sizes[0])) throw new InvalidArgumentError(`${task} prompt inputs disagree on the batch size (${sizes.join(' vs ')})`);
  }

  private emptyBatch(task: string, withLabels: boolean): PromptBatch {
    return withLabels ? { task, inputIds: [], labels: [], attentionMask: [] } : { task, inputIds: [], attentionMask: [] };
  }

  private pushRow(out: PromptBatch, ids: number[], labels?: number[]): void {
    out.inputIds.push(ids);
    out.attentionMask.push(ids.map((id) => (id === this.layout.padId ? 0 : 1)));
    if (labels !== undefined) out.labels!.push(labels);
  }
}

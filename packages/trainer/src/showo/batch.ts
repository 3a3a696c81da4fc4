import { InvalidArgumentError, type UniformSource } from '@showo/runtime';
import {
  buildOmniMaskFromIds,
  concatBatch,
  createAttentionMaskForMmu,
  createAttentionMaskPredictNext,
  type AllowMask,
  type MaskTokenIds,
} from '@showo/omni-attention';
import type { TextInput, UniversalPrompting } from '@showo/prompting';
import { IGNORE_INDEX, maskImageTokens, type ImageMaskingOptions } from '../masking.js';

/**
 * One training batch of Show-o, fully prepared on the host: ids, labels and the omni-attention allow-mask.
 * Rows are ordered t2i, then lm, then mmu (the layout `showoLosses` expects).
 */
export interface ShowoBatch {
  /** `mixed`: t2i + lm + mmu rows; `howto`: interleaved how-to rows, all scored like t2i rows. */
  kind: 'mixed' | 'howto';
  batch: number;
  length: number;
  /** Row-major [batch, length]. */
  inputIds: Int32Array;
  /** Row-major [batch, length], -100 where there is no target. */
  labels: Int32Array;
  allow: AllowMask;
  /**
   * Next-token targets aligned with the logits (the logits at position i are scored against `ntpTargets[i]`),
   * -100 where there is none: the step texts of interleaved how-to batches (`buildInterleavedHowtoBatch`).
   */
  ntpTargets?: Int32Array;
  batchT2i: number;
  batchLm: number;
  batchMmu: number;
}

/** Image tokens of one image: N token ids (codes already offset into the unified vocabulary). */
export type ImageIds = ArrayLike<number>;

/** The raw material of a mixed batch. Any part may be absent or empty. */
export interface ShowoBatchInput {
  /** `objectRegions`: per row, the token-grid cells of its objects (for `masking.objectRegionProb`). */
  t2i?: { texts: readonly TextInput[]; imageIds: readonly ImageIds[]; objectRegions?: readonly (readonly number[])[] };
  lm?: { texts: readonly TextInput[] };
  mmu?: { texts: readonly TextInput[]; imageIds: readonly ImageIds[] };
}

/** How the image tokens and captions of t2i rows are corrupted for training. */
export interface ShowoBatchOptions {
  /** Image-token masking (official `mask_or_random_replace_tokens` settings); `maskId` comes from the layout. */
  masking?: Omit<ImageMaskingOptions, 'maskId' | 'objectRegions'>;
  /** Caption dropout probability of t2i rows (default: the prompting's, official 0.1). */
  condDropoutProb?: number;
}

/** The ids the mask builders look for. */
export function maskTokenIds(prompting: UniversalPrompting): MaskTokenIds {
  const L = prompting.layout;
  return { padId: L.padId, soiId: L.special('<|soi|>'), eoiId: L.special('<|eoi|>') };
}

function flatRows(rows: readonly ArrayLike<number>[], length: number): Int32Array {
  const out = new Int32Array(rows.length * length);
  rows.forEach((r, b) => {
    if (r.length !== length) throw new InvalidArgumentError(`batch row ${b} has length ${r.length}, expected ${length}`);
    out.set(Array.from(r), b * length);
  });
  return out;
}

function splitRows(flat: Int32Array, rows: number, cols: number): Int32Array[] {
  return Array.from({ length: rows }, (_, b) => flat.subarray(b * cols, (b + 1) * cols));
}

/**
 * Builds a mixed Show-o training batch as `training/train.py` does:
 * - t2i rows: image tokens masked with {@link maskImageTokens}, then the official `'t2i'` prompt with condition
 *   dropout, mask `create_attention_mask_predict_next(rm_pad_in_image=True)`;
 * - lm rows: the `'lm'` prompt padded to the t2i length, mask `create_attention_mask_predict_next` (plain causal);
 * - mmu rows: the `'mmu'` prompt, mask `create_attention_mask_for_mmu`.
 * Uniforms are drawn in the official order: masking timesteps (B), the mask decision / permutation uniforms, then
 * one dropout uniform per t2i row.
 */
export function buildShowoBatch(prompting: UniversalPrompting, input: ShowoBatchInput, uniforms: UniformSource, options: ShowoBatchOptions = {}): ShowoBatch {
  const layout = prompting.layout;
  const ids = maskTokenIds(prompting);
  const length = prompting.t2iSequenceLength;
  const N = prompting.numVqTokens;
  const rowsIds: ArrayLike<number>[] = [];
  const rowsLabels: ArrayLike<number>[] = [];
  const masks: AllowMask[] = [];
  const bt = input.t2i?.texts.length ?? 0;
  const bl = input.lm?.texts.length ?? 0;
  const bm = input.mmu?.texts.length ?? 0;
  if (bt + bl + bm === 0) throw new InvalidArgumentError('a Show-o batch needs at least one row');

  if (bt > 0) {
    const t2i = input.t2i!;
    if (t2i.imageIds.length !== bt) throw new InvalidArgumentError(`${bt} t2i texts but ${t2i.imageIds.length} images`);
    const tokens = new Int32Array(bt * N);
    t2i.imageIds.forEach((img, b) => {
      if (img.length !== N) throw new InvalidArgumentError(`t2i image ${b} has ${img.length} tokens, expected ${N}`);
      tokens.set(Array.from(img), b * N);
    });
    const masked = maskImageTokens(tokens, bt, N, uniforms, {
      ...options.masking,
      maskId: layout.maskId,
      ...(t2i.objectRegions ? { objectRegions: t2i.objectRegions } : {}),
    });
    const dropoutUniforms = Array.from({ length: bt }, () => uniforms.next());
    const p = prompting.t2i({
      texts: t2i.texts,
      imageIds: splitRows(masked.inputIds, bt, N),
      labels: splitRows(masked.labels, bt, N),
      dropoutUniforms,
      ...(options.condDropoutProb !== undefined ? { condDropoutProb: options.condDropoutProb } : {}),
    });
    rowsIds.push(...p.inputIds);
    rowsLabels.push(...p.labels!);
    masks.push(createAttentionMaskPredictNext(p.inputIds, ids, { rmPadInImage: true }));
  }
  if (bl > 0) {
    const p = prompting.lm({ texts: input.lm!.texts, maxSeqLen: length });
    rowsIds.push(...p.inputIds);
    rowsLabels.push(...p.labels!);
    masks.push(createAttentionMaskPredictNext(p.inputIds, ids, { rmPadInImage: false }));
  }
  if (bm > 0) {
    const mmu = input.mmu!;
    const p = prompting.mmu({ imageIds: mmu.imageIds, texts: mmu.texts });
    rowsIds.push(...p.inputIds);
    rowsLabels.push(...p.labels!);
    masks.push(createAttentionMaskForMmu(p.inputIds, ids));
  }
  const batch = bt + bl + bm;
  return {
    kind: 'mixed',
    batch,
    length,
    inputIds: flatRows(rowsIds, length),
    labels: flatRows(rowsLabels, length),
    allow: concatBatch(masks),
    batchT2i: bt,
    batchLm: bl,
    batchMmu: bm,
  };
}

/** One how-to sequence: the question, then each step's text and keyframe (N image token ids). */
export interface HowtoRow {
  question: TextInput;
  steps: ReadonlyArray<{ text: TextInput; imageIds: ImageIds }>;
}

/**
 * Builds a batch of interleaved how-to sequences for guided generation: `question + step 1` as the t2i text block,
 * keyframe 1, then `BOS step k EOS` and keyframe k for every further step (`UniversalPrompting.interleaved`),
 * right-padded to the longest row (or `padTo`). Every keyframe is masked independently (its own timestep); labels
 * are the masked codes and each block's `<|soi|>`/`<|eoi|>` (as t2i labels are), text positions carry none — the
 * rows are scored by the (unshifted) t2i loss, which must not be asked to copy text. The mask is the general
 * omni-attention mask (text causal, each image block bidirectional, padding isolated), which equals the official
 * lvg mask on every non-pad position. Question and first step are joined by a space when given as strings.
 */
export function buildHowtoBatch(
  prompting: UniversalPrompting,
  rows: readonly HowtoRow[],
  uniforms: UniformSource,
  options: Omit<ShowoBatchOptions, 'condDropoutProb'> & { padTo?: number } = {},
): ShowoBatch {
  if (rows.length === 0) throw new InvalidArgumentError('a how-to batch needs at least one row');
  const layout = prompting.layout;
  const N = prompting.numVqTokens;
  const images: ImageIds[] = [];
  for (const r of rows) {
    if (r.steps.length === 0) throw new InvalidArgumentError('a how-to row needs at least one step');
    for (const s of r.steps) {
      if (s.imageIds.length !== N) throw new InvalidArgumentError(`how-to keyframe has ${s.imageIds.length} tokens, expected ${N}`);
      images.push(s.imageIds);
    }
  }
  const tokens = new Int32Array(images.length * N);
  images.forEach((img, k) => tokens.set(Array.from(img), k * N));
  const masked = maskImageTokens(tokens, images.length, N, uniforms, { ...options.masking, maskId: layout.maskId });
  let k = 0;
  const joinText = (a: TextInput, b: TextInput): TextInput =>
    typeof a === 'string' && typeof b === 'string' ? `${a} ${b}` : [...(typeof a === 'string' ? prompting.encodeTexts([a])[0] : a), ...(typeof b === 'string' ? prompting.encodeTexts([b])[0] : b)];
  const p = prompting.interleaved({
    rows: rows.map((r) =>
      r.steps.map((s, i) => {
        const img = masked.inputIds.subarray(k * N, (k + 1) * N);
        const lab = masked.labels.subarray(k * N, (k + 1) * N);
        k++;
        return { text: i === 0 ? joinText(r.question, s.text) : s.text, imageIds: img, imageLabels: lab };
      }),
    ),
    ...(options.padTo !== undefined ? { padTo: options.padTo } : {}),
  });
  const ids = maskTokenIds(prompting);
  const length = p.inputIds[0].length;
  // Keep labels only inside image blocks (soi, masked codes, eoi).
  const labels = p.labels!.map((row, b) => {
    const seq = p.inputIds[b];
    let inImage = false;
    return row.map((lab, i) => {
      if (seq[i] === ids.soiId) inImage = true;
      const keep = inImage;
      if (seq[i] === ids.eoiId) inImage = false;
      return keep ? lab : IGNORE_INDEX;
    });
  });
  return {
    kind: 'howto',
    batch: rows.length,
    length,
    inputIds: flatRows(p.inputIds, length),
    labels: flatRows(labels, length),
    allow: buildOmniMaskFromIds(p.inputIds, ids, { pad: 'isolate' }),
    batchT2i: rows.length,
    batchLm: 0,
    batchMmu: 0,
  };
}

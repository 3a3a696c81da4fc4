import { InvalidArgumentError } from '@showo/runtime';
import { createAllowMask } from './mask.js';
import type { AllowMask, IdRows, MaskTokenIds } from './types.js';

/** Batch size and common row length of id rows. */
export function rowShape(seqs: IdRows): { B: number; L: number } {
  const B = seqs.length;
  if (B === 0) throw new InvalidArgumentError('a mask needs at least one sequence');
  const L = seqs[0]!.length;
  seqs.forEach((s, b) => {
    if (s.length !== L) throw new InvalidArgumentError(`sequence ${b} has length ${s.length}, sequence 0 has ${L}; pad them to one length`);
  });
  return { B, L };
}

/** Positions of `id` in row-major order over the batch, as `torch.where(seq == id)[1]` lists them. */
function flatPositions(seqs: IdRows, id: number): number[] {
  const out: number[] = [];
  for (const s of seqs) for (let j = 0; j < s.length; j++) if (s[j] === id) out.push(j);
  return out;
}

/**
 * The official `create_attention_mask_predict_next` (training/prompting_utils.py) as an allow-mask.
 *
 * A position is in an image segment when it lies between `<|soi|>` and `<|eoi|>`, both included. Text rows are
 * causal; image rows see every position of the sequence. With `rmPadInImage` (t2i training and generation):
 * rows after the last `[PAD]` of their row cannot see columns `0..lastPad`, and image rows from `<|soi|>` on cannot
 * see `[PAD]` columns; `[PAD]` rows stay causal.
 *
 * Bug-compatible detail: with `rmPadInImage`, row b uses the b-th `<|soi|>` of the whole batch in row-major order
 * (`torch.where(seq == soi)[1][b]`), which is row b's own when every row has exactly one. Fewer `<|soi|>` than rows
 * (an IndexError in Python) throws {@link @showo/runtime!InvalidArgumentError | InvalidArgumentError}.
 */
export function createAttentionMaskPredictNext(seqs: IdRows, ids: MaskTokenIds, options: { rmPadInImage?: boolean } = {}): AllowMask {
  const { B, L } = rowShape(seqs);
  const rm = options.rmPadInImage ?? false;
  const mask = createAllowMask(B, L, L);
  const sidImg = rm ? flatPositions(seqs, ids.soiId) : [];
  if (rm && sidImg.length < B) {
    throw new InvalidArgumentError(`rm_pad_in_image needs a <|soi|> per batch row; found ${sidImg.length} for ${B} rows`);
  }
  const inImage = new Uint8Array(L);
  const isPad = new Uint8Array(L);
  for (let b = 0; b < B; b++) {
    const s = seqs[b]!;
    let starts = 0;
    let ends = 0;
    let lastPad = -1;
    for (let j = 0; j < L; j++) {
      if (s[j] === ids.soiId) starts++;
      if (s[j] === ids.eoiId) ends++;
      inImage[j] = starts > ends || s[j] === ids.soiId || s[j] === ids.eoiId ? 1 : 0;
      isPad[j] = s[j] === ids.padId ? 1 : 0;
      if (isPad[j]) lastPad = j;
    }
    const sid = rm ? sidImg[b]! : 0;
    for (let i = 0; i < L; i++) {
      const row = (b * L + i) * L;
      if (inImage[i]) {
        // Image rows: bidirectional over the whole sequence (minus padding from <|soi|> on).
        for (let j = 0; j < L; j++) mask.data[row + j] = rm && i >= sid && isPad[j] ? 0 : 1;
      } else {
        const hidden = rm && lastPad >= 0 && i > lastPad ? lastPad : -1;
        for (let j = hidden + 1; j <= i; j++) mask.data[row + j] = 1;
      }
    }
  }
  return mask;
}

/**
 * The official `create_attention_mask_for_mmu`: causal, plus every row of every batch row sees columns `0..p`,
 * where p is the first `<|eoi|>` of the batch in row-major order — batch row 0's for a regular batch, used for all
 * rows. No `<|eoi|>` at all throws {@link @showo/runtime!InvalidArgumentError | InvalidArgumentError}.
 */
export function createAttentionMaskForMmu(seqs: IdRows, ids: Pick<MaskTokenIds, 'eoiId'>): AllowMask {
  const { B, L } = rowShape(seqs);
  const p = flatPositions(seqs, ids.eoiId)[0];
  if (p === undefined) throw new InvalidArgumentError('create_attention_mask_for_mmu needs an <|eoi|> in the batch');
  const mask = createAllowMask(B, L, L);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) {
      const row = (b * L + i) * L;
      const last = Math.max(i, p);
      for (let j = 0; j <= last; j++) mask.data[row + j] = 1;
    }
  }
  return mask;
}

/**
 * The official `create_attention_mask_lvg`: causal; rows from the row's first `<|soi|>` on cannot see `[PAD]`
 * columns; then every `<|soi|> … <|eoi|>` block is fully bidirectional inside itself.
 *
 * Bug-compatible detail: the official code reshapes the batch's `<|soi|>` (and `<|eoi|>`) positions, listed in
 * row-major order, to `[B, -1]`; so each row takes the next equal share of that list. With the same number of
 * images in every row this is each row's own blocks. A batch whose counts do not split evenly, or has no image,
 * (an error in Python) throws {@link @showo/runtime!InvalidArgumentError | InvalidArgumentError}.
 */
export function createAttentionMaskLvg(seqs: IdRows, ids: MaskTokenIds): AllowMask {
  const { B, L } = rowShape(seqs);
  const starts = flatPositions(seqs, ids.soiId);
  const ends = flatPositions(seqs, ids.eoiId);
  if (starts.length === 0 || starts.length % B !== 0 || ends.length % B !== 0) {
    throw new InvalidArgumentError(`create_attention_mask_lvg needs the same number of images in every row (found ${starts.length} <|soi|>, ${ends.length} <|eoi|> for ${B} rows)`);
  }
  const k = starts.length / B;
  const kEnd = ends.length / B;
  if (kEnd < k) throw new InvalidArgumentError(`create_attention_mask_lvg: ${k} <|soi|> but only ${kEnd} <|eoi|> per row`);
  const mask = createAllowMask(B, L, L);
  for (let b = 0; b < B; b++) {
    const s = seqs[b]!;
    const first = starts[b * k]!;
    for (let i = 0; i < L; i++) {
      const row = (b * L + i) * L;
      for (let j = 0; j <= i; j++) mask.data[row + j] = i >= first && s[j] === ids.padId ? 0 : 1;
    }
    for (let n = 0; n < k; n++) {
      const sid = starts[b * k + n]!;
      const eid = ends[b * kEnd + n]!;
      for (let i = sid; i <= eid; i++) mask.data.fill(1, (b * L + i) * L + sid, (b * L + i) * L + eid + 1);
    }
  }
  return mask;
}

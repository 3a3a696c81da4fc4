import { InvalidArgumentError } from '@showo/runtime';
import { createAllowMask } from './mask.js';
import { rowShape } from './official.js';
import type { AllowMask, IdRows, MaskTokenIds, PadPolicy, Segment } from './types.js';

/** Options of the general builder. */
export interface OmniMaskOptions {
  /** How padding attends and is attended; default `isolate`. */
  pad?: PadPolicy;
}

/** Options of {@link segmentsFromIds}. */
export interface SegmentsFromIdsOptions {
  /**
   * Read everything from the first non-pad token through the end of the first image block as one block (Show-o's
   * mmu rule: `<|mmu|>` and the image see each other; `create_attention_mask_for_mmu`).
   */
  bidirectionalPrefix?: boolean;
}

/**
 * Segments of a row of ids: each `<|soi|> … <|eoi|>` span (both included; an unterminated one runs to the end of
 * the row) is an `image` block of its own, runs of `[PAD]` outside images are `pad`, the rest is `text`.
 */
export function segmentsFromIds(ids: ArrayLike<number>, tokens: MaskTokenIds, options: SegmentsFromIdsOptions = {}): Segment[] {
  const out: Segment[] = [];
  const push = (kind: Segment['kind'], length: number, merge: boolean): void => {
    const last = out[out.length - 1];
    if (merge && last && last.kind === kind) last.length += length;
    else out.push({ kind, length });
  };
  let i = 0;
  while (i < ids.length) {
    const id = ids[i]!;
    if (id === tokens.soiId) {
      let j = i + 1;
      while (j < ids.length && ids[j] !== tokens.eoiId) j++;
      const end = Math.min(j + 1, ids.length);
      push('image', end - i, false); // adjacent images stay separate blocks
      i = end;
    } else {
      push(id === tokens.padId ? 'pad' : 'text', 1, true);
      i++;
    }
  }
  if (options.bidirectionalPrefix) {
    let k = 0;
    while (k < out.length && out[k]!.kind === 'pad') k++;
    const firstImage = out.findIndex((s, idx) => idx >= k && s.kind === 'image');
    if (firstImage > k) {
      const length = out.slice(k, firstImage + 1).reduce((n, s) => n + s.length, 0);
      out.splice(k, firstImage + 1 - k, { kind: 'image', length });
    }
  }
  return out;
}

/** Total length of a segment list (validating the lengths). */
export function segmentsLength(segments: readonly Segment[]): number {
  let n = 0;
  for (const s of segments) {
    if (!Number.isInteger(s.length) || s.length < 0) throw new InvalidArgumentError(`segment length ${s.length} is not a non-negative integer`);
    if (s.kind !== 'text' && s.kind !== 'image' && s.kind !== 'pad') throw new InvalidArgumentError(`unknown segment kind ${String(s.kind)}`);
    n += s.length;
  }
  return n;
}

/**
 * Fills the rows of the positions `start + q` described by `segments` (q = 0, 1, …) of one batch row, at key
 * columns `start + j`. `base(q, row)` writes the row's view of the keys before `start` (nothing for a whole mask,
 * the context row for appended positions); pad rows under `isolate` get no base.
 */
function fillRows(
  out: Uint8Array,
  rowOffset: (q: number) => number,
  start: number,
  segments: readonly Segment[],
  policy: PadPolicy,
  base: (q: number, row: number) => void,
): void {
  const isolate = policy === 'isolate';
  const total = segmentsLength(segments);
  const padAt = new Uint8Array(total);
  let p = 0;
  for (const s of segments) {
    if (s.kind === 'pad') padAt.fill(1, p, p + s.length);
    p += s.length;
  }
  let s0 = 0;
  for (const seg of segments) {
    const s1 = s0 + seg.length;
    for (let q = s0; q < s1; q++) {
      const row = rowOffset(q);
      if (seg.kind === 'pad' && isolate) {
        // A pad sees its own run causally, nothing else: no row is fully blocked, and no other row sees it.
        for (let j = s0; j <= q; j++) out[row + start + j] = 1;
        continue;
      }
      base(q, row);
      // Causal part over the new positions (text, attending pads) or everything before the block (image).
      const upto = seg.kind === 'image' ? s0 - 1 : q;
      for (let j = 0; j <= upto; j++) if (!(isolate && padAt[j])) out[row + start + j] = 1;
      if (seg.kind === 'image') out.fill(1, row + start + s0, row + start + s1);
    }
    s0 = s1;
  }
}

/**
 * The general omni-attention mask from a segment description per batch row (all rows of equal total length):
 * text causal; every image block bidirectional within itself and seeing everything before it; padding as the pad
 * policy says (default `isolate`: neither attends nor is attended, except causally within its own run).
 *
 * Agreement with the official functions, where they apply:
 * - t2i prompts (`[PAD]* text image`), `isolate` ≡ `create_attention_mask_predict_next(rm_pad_in_image=True)`;
 *   `attend` ≡ `rm_pad_in_image=False` (image rows there see the whole sequence, which for the final image is
 *   everything before it and itself).
 * - lm (text, then pads), `attend` ≡ `create_attention_mask_predict_next` (plain causal).
 * - mmu with {@link segmentsFromIds}`(…, { bidirectionalPrefix: true })`, `attend` ≡ `create_attention_mask_for_mmu`.
 * - interleaved text/image sequences ≡ `create_attention_mask_lvg` on every non-pad row and column. (The official
 *   function lets text before the first image see the left padding and trailing pads see all non-pad tokens;
 *   `isolate` keeps padding out of everything.)
 */
export function buildOmniMask(rows: readonly (readonly Segment[])[], options: OmniMaskOptions = {}): AllowMask {
  if (rows.length === 0) throw new InvalidArgumentError('a mask needs at least one row of segments');
  const L = segmentsLength(rows[0]!);
  rows.forEach((segs, b) => {
    const n = segmentsLength(segs);
    if (n !== L) throw new InvalidArgumentError(`segments of batch row ${b} cover ${n} positions, row 0 covers ${L}`);
  });
  const mask = createAllowMask(rows.length, L, L);
  rows.forEach((segs, b) => fillRows(mask.data, (q) => (b * L + q) * L, 0, segs, options.pad ?? 'isolate', () => undefined));
  return mask;
}

/** {@link buildOmniMask} over segments read from ids by {@link segmentsFromIds}. */
export function buildOmniMaskFromIds(seqs: IdRows, tokens: MaskTokenIds, options: OmniMaskOptions & SegmentsFromIdsOptions = {}): AllowMask {
  rowShape(seqs);
  return buildOmniMask(
    seqs.map((s) => segmentsFromIds(s, tokens, options)),
    options,
  );
}

/** Options of {@link appendRows} and {@link extendMask}. */
export interface AppendOptions extends OmniMaskOptions {
  /** Which query row of the existing mask gives the new positions' view of the cached keys; default its last row. */
  contextRow?: number;
}

/**
 * Rows for positions appended after the existing ones — what attention with a KV cache needs: queries = the new
 * positions, keys = the cached positions followed by the new ones. Result: `[B, n, L + n]` with L = `context.keys`.
 *
 * The new positions see the cached keys exactly as the context row does (by default the last row of `context`,
 * which includes that position itself), and each other by the segment rules. This is how the official
 * `mmu_generate` grows its mask (the new row is a copy of the old last row plus itself), and it gives a
 * prefix-cached image block (t2i: the text prefix cached, then `<|soi|> image <|eoi|>`) the rows of the full
 * mask. `appended` is one segment list for all batch rows or one per row.
 */
export function appendRows(context: AllowMask, appended: readonly Segment[] | readonly (readonly Segment[])[], options: AppendOptions = {}): AllowMask {
  const perRow = toPerRow(appended, context.batch);
  const n = segmentsLength(perRow[0]!);
  perRow.forEach((segs, b) => {
    if (segmentsLength(segs) !== n) throw new InvalidArgumentError(`appended segments of batch row ${b} cover ${segmentsLength(segs)} positions, row 0 covers ${n}`);
  });
  const ctxRow = options.contextRow ?? context.queries - 1;
  if (!Number.isInteger(ctxRow) || ctxRow < 0 || ctxRow >= context.queries) {
    throw new InvalidArgumentError(`context row ${ctxRow} is outside the existing mask's ${context.queries} rows`);
  }
  const L = context.keys;
  const K = L + n;
  const out = createAllowMask(context.batch, n, K);
  perRow.forEach((segs, b) => {
    const src = (b * context.queries + ctxRow) * L;
    const view = context.data.subarray(src, src + L);
    fillRows(out.data, (q) => (b * n + q) * K, L, segs, options.pad ?? 'isolate', (_q, row) => out.data.set(view, row));
  });
  return out;
}

/**
 * The square mask `[B, L + n, L + n]` after appending positions: the existing rows (blind to the new keys, as in
 * the official `mmu_generate`), then {@link appendRows}.
 */
export function extendMask(mask: AllowMask, appended: readonly Segment[] | readonly (readonly Segment[])[], options: AppendOptions = {}): AllowMask {
  if (mask.queries !== mask.keys) throw new InvalidArgumentError(`extendMask needs a square mask, got ${mask.queries}×${mask.keys}`);
  const rows = appendRows(mask, appended, options);
  const L = mask.keys;
  const K = rows.keys;
  const out = createAllowMask(mask.batch, K, K);
  for (let b = 0; b < mask.batch; b++) {
    for (let i = 0; i < L; i++) out.data.set(mask.data.subarray((b * L + i) * L, (b * L + i + 1) * L), (b * K + i) * K);
    out.data.set(rows.data.subarray(b * rows.queries * K, (b + 1) * rows.queries * K), (b * K + L) * K);
  }
  return out;
}

function toPerRow(appended: readonly Segment[] | readonly (readonly Segment[])[], batch: number): (readonly Segment[])[] {
  if (appended.length > 0 && Array.isArray(appended[0])) {
    const rows = appended as readonly (readonly Segment[])[];
    if (rows.length !== batch) throw new InvalidArgumentError(`${rows.length} rows of appended segments for a batch of ${batch}`);
    return [...rows];
  }
  return new Array<readonly Segment[]>(batch).fill(appended as readonly Segment[]);
}

/**
 * A batch of boolean attention masks as a typed array: `data[(b * queries + i) * keys + j] = 1` when query i of
 * batch row b may attend to key j, 0 when it is blocked. Row-major `[batch, queries, keys]`.
 */
export interface AllowMask {
  batch: number;
  queries: number;
  keys: number;
  data: Uint8Array;
}

/**
 * One run of positions for the general builder ({@link buildOmniMask}).
 *
 * - `text`: causal — sees itself and everything before it.
 * - `image`: a block read as a whole — bidirectional inside itself, and it sees everything before it (not what
 *   comes after). Any span a task wants read as a whole can be a block (mmu reads `<|mmu|>` + image as one).
 * - `pad`: padding; see {@link PadPolicy}.
 */
export interface Segment {
  kind: 'text' | 'image' | 'pad';
  length: number;
}

/**
 * How padding behaves in the general builder.
 *
 * - `isolate`: no other position attends to a pad; a pad attends causally within its own run only (so no row is
 *   fully blocked). On left-padded t2i prompts this is exactly the official `rm_pad_in_image=True` mask.
 * - `attend`: pads behave as causal text and are visible to later positions — the official lm and mmu masks.
 */
export type PadPolicy = 'isolate' | 'attend';

/** The ids the official mask functions look for. */
export interface MaskTokenIds {
  padId: number;
  soiId: number;
  eoiId: number;
}

/** A batch of token-id rows, all of one length. */
export type IdRows = readonly ArrayLike<number>[];

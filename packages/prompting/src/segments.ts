import type { TokenLayout } from './layout.js';
import type { Segment } from './types.js';

/** Options of {@link describeSegments}. */
export interface DescribeSegmentsOptions {
  /**
   * Read everything from the first non-pad token through the end of the first image block as one bidirectional
   * block — Show-o's mmu rule, where `<|mmu|>` and the image see each other.
   */
  bidirectionalPrefix?: boolean;
}

/**
 * Segments of one row of ids, for the general omni-attention mask builder: every `<|soi|> … <|eoi|>` span (both
 * included; an unterminated one runs to the end) is an `image` segment of its own, runs of `[PAD]` outside images
 * are `pad`, everything else is `text`. (A mirror of `segmentsFromIds` in `@showo/omni-attention`, which this
 * package must not import.)
 */
export function describeSegments(ids: ArrayLike<number>, layout: TokenLayout, options: DescribeSegmentsOptions = {}): Segment[] {
  const pad = layout.padId;
  const soi = layout.special('<|soi|>');
  const eoi = layout.special('<|eoi|>');
  const out: Segment[] = [];
  const push = (kind: Segment['kind'], length: number, merge: boolean): void => {
    const last = out[out.length - 1];
    if (merge && last && last.kind === kind) last.length += length;
    else out.push({ kind, length });
  };
  let i = 0;
  while (i < ids.length) {
    const id = ids[i]!;
    if (id === soi) {
      let j = i + 1;
      while (j < ids.length && ids[j] !== eoi) j++;
      const end = Math.min(j + 1, ids.length);
      push('image', end - i, false); // adjacent image blocks stay separate blocks
      i = end;
    } else {
      push(id === pad ? 'pad' : 'text', 1, true);
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

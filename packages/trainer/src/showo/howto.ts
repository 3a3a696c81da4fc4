/**
 * Interleaved how-to training with both of Show-o's objectives in one sequence: masked-token prediction on every
 * keyframe (MTP, the t2i loss) and next-token prediction on every step text (NTP), so one model can both write the
 * steps (free mode) and draw the keyframes (guided and free mode).
 *
 * The layout is the one of {@link buildHowtoBatch} (what guided generation reproduces), plus an end marker:
 *
 * ```
 * [PAD]* <|t2i|> BOS question step₁ EOS  <|soi|> kf₁ <|eoi|>  BOS step₂ EOS <|soi|> kf₂ <|eoi|> …  BOS EOS  [PAD]*
 * └──── t2i text block, left-padded to MSL+1 ───┘                                        end marker
 * ```
 *
 * The end marker is an empty step (`BOS EOS`): after a keyframe the generator feeds `BOS` and the model either
 * writes the next step or ends the sequence by answering `EOS` at once. It comes after every keyframe, so no
 * keyframe sees it, and guided generation (which never asks for it) reads the same sequence as before.
 */
import { InvalidArgumentError, type UniformSource } from '@showo/runtime';
import { buildOmniMaskFromIds } from '@showo/omni-attention';
import type { TextInput, UniversalPrompting } from '@showo/prompting';
import { IGNORE_INDEX, maskImageTokens } from '../masking.js';
import { maskTokenIds, type HowtoRow, type ImageIds, type ShowoBatch, type ShowoBatchOptions } from './batch.js';

/** Options of {@link buildInterleavedHowtoBatch}. */
export interface InterleavedHowtoOptions extends Omit<ShowoBatchOptions, 'condDropoutProb'> {
  /** Right-pad every row to this length (default: the longest row). */
  padTo?: number;
  /** Append the end marker `BOS EOS` after the last keyframe (default true). */
  endMarker?: boolean;
}

/** Text ids of a text given as a string (encoded) or as ids. */
function idsOf(prompting: UniversalPrompting, text: TextInput): number[] {
  return typeof text === 'string' ? prompting.encodeTexts([text])[0]! : Array.from(text);
}

/**
 * Builds a batch of interleaved how-to sequences with labels for both losses:
 * - `labels` (MTP, scored unshifted by the t2i part of `showoLosses`): inside each keyframe block `<|soi|>`, the
 *   true code at masked positions and `<|eoi|>`; nothing elsewhere. Each keyframe gets its own masking timestep.
 * - `ntpTargets` (NTP, already shifted: the logits at position i are scored against `ntpTargets[i]`): every token
 *   of every step text and its `EOS` (step 1 after the question inside the t2i block; later steps after their
 *   `BOS`), and the `EOS` of the end marker. The question, `BOS`, `<|soi|>` and the image tokens carry none — the
 *   generator supplies those itself.
 *
 * The question and step 1 are joined as ids (question ids, then step ids), which for the word tokenizer is the
 * same as joining the strings with a space. The mask is the general omni-attention mask (text causal, each
 * keyframe bidirectional within itself and seeing everything before it, padding isolated).
 */
export function buildInterleavedHowtoBatch(prompting: UniversalPrompting, rows: readonly HowtoRow[], uniforms: UniformSource, options: InterleavedHowtoOptions = {}): ShowoBatch {
  if (rows.length === 0) throw new InvalidArgumentError('a how-to batch needs at least one row');
  const layout = prompting.layout;
  const N = prompting.numVqTokens;
  const endMarker = options.endMarker ?? true;
  const images: ImageIds[] = [];
  rows.forEach((r, b) => {
    if (r.steps.length === 0) throw new InvalidArgumentError(`how-to row ${b} needs at least one step`);
    for (const s of r.steps) {
      if (s.imageIds.length !== N) throw new InvalidArgumentError(`how-to keyframe of row ${b} has ${s.imageIds.length} tokens, expected ${N}`);
      images.push(s.imageIds);
    }
  });
  const tokens = new Int32Array(images.length * N);
  images.forEach((img, k) => tokens.set(Array.from(img), k * N));
  const masked = maskImageTokens(tokens, images.length, N, uniforms, { ...options.masking, maskId: layout.maskId });

  // Where step 1 starts inside the t2i text block: after `[PAD]* <|t2i|> BOS question`.
  const step1Start: number[] = [];
  let k = 0;
  const p = prompting.interleaved({
    rows: rows.map((r) => {
      const q = idsOf(prompting, r.question);
      const s1 = idsOf(prompting, r.steps[0]!.text);
      const first = [...q, ...s1];
      const bos = first[0] === layout.bosId ? 0 : 1; // the block prepends BOS unless the text starts with it
      const blockLen = 2 + bos + first.length;
      step1Start.push(Math.max(0, prompting.maxTextLen - blockLen) + 1 + bos + q.length);
      const items = r.steps.map((s, i) => {
        const img = masked.inputIds.subarray(k * N, (k + 1) * N);
        const lab = masked.labels.subarray(k * N, (k + 1) * N);
        k++;
        return { text: i === 0 ? first : s.text, imageIds: img, imageLabels: lab };
      });
      return endMarker ? [...items, { text: [] as number[] }] : items;
    }),
    ...(options.padTo !== undefined ? { padTo: options.padTo } : {}),
  });
  const ids = maskTokenIds(prompting);
  const length = p.inputIds[0]!.length;
  const mtl = prompting.maxTextLen;
  const labels = new Int32Array(rows.length * length).fill(IGNORE_INDEX);
  const ntp = new Int32Array(rows.length * length).fill(IGNORE_INDEX);
  p.inputIds.forEach((seq, b) => {
    const o = b * length;
    // MTP labels: only inside image blocks (as buildHowtoBatch).
    let inImage = false;
    for (let i = 0; i < length; i++) {
      if (seq[i] === ids.soiId) inImage = true;
      if (inImage) labels[o + i] = p.labels![b]![i]!;
      if (seq[i] === ids.eoiId) inImage = false;
    }
    // NTP, step 1: its tokens and the block's EOS (position MTL−1), each predicted from the position before.
    for (let j = Math.max(1, step1Start[b]!); j < mtl; j++) ntp[o + j - 1] = seq[j]!;
    // Later steps and the end marker: `<|eoi|> BOS text… EOS` → targets from the token after BOS through EOS.
    for (let e = mtl; e < length; e++) {
      if (seq[e] !== ids.eoiId || seq[e + 1] !== layout.bosId) continue;
      for (let j = e + 2; j < length; j++) {
        ntp[o + j - 1] = seq[j]!;
        if (seq[j] === layout.eosId || seq[j] === ids.soiId || seq[j] === layout.padId) {
          if (seq[j] !== layout.eosId) ntp[o + j - 1] = IGNORE_INDEX; // malformed (never built here): no target
          break;
        }
      }
    }
  });
  return {
    kind: 'howto',
    batch: rows.length,
    length,
    inputIds: Int32Array.from(p.inputIds.flat()),
    labels,
    ntpTargets: ntp,
    allow: buildOmniMaskFromIds(p.inputIds, ids, { pad: 'isolate' }),
    batchT2i: rows.length,
    batchLm: 0,
    batchMmu: 0,
  };
}

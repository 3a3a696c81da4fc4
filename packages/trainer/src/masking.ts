import { InvalidArgumentError, type UniformSource } from '@showo/runtime';

/** Label value the losses ignore (PyTorch's `ignore_index`). */
export const IGNORE_INDEX = -100;

/**
 * The official cosine mask schedule, `cos(t·π·0.5)`, evaluated as PyTorch does on a float32 tensor: the product
 * `t·π` is rounded to float32 before halving (exact) and the cosine is rounded to float32.
 */
export function cosineMaskSchedule(t: number): number {
  const arg = Math.fround(Math.fround(Math.fround(t) * Math.PI) * 0.5);
  return Math.fround(Math.cos(arg));
}

/** Rounds half to even (`torch.round`), so 2.5 → 2 and 3.5 → 4. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; step back when that landed on an odd number exactly half-way.
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Options of {@link maskImageTokens}, named after the official `config.training` keys. */
export interface ImageMaskingOptions {
  /** Id written at masked positions (`mask_token_id`). */
  maskId: number;
  /** Lower bound of the mask probability (`min_masking_rate`, official default 0). */
  minMaskingRate?: number;
  /**
   * Probability of masking one contiguous rectangle instead of random positions (`mask_contiguous_region_prob`;
   * `null`/absent disables it and draws no uniform for the decision, as the official code does).
   */
  contiguousRegionProb?: number | null;
  /**
   * Not in the official code. Probability of masking the rows' object regions instead (one decision for the
   * batch, drawn after the timesteps and before the contiguous decision; absent = the official draws exactly).
   * Each row then masks every cell of its `objectRegions` (row-major cell indices into the token grid), whatever
   * its timestep: the background around tells where an object is, only the caption can say what it is — the
   * context of MaskGIT's last steps, where a shape is decided. A row without regions falls back to random masking.
   */
  objectRegionProb?: number;
  /** Per row, the cells that make up its objects' regions (see `objectRegionProb`). */
  objectRegions?: readonly (readonly number[])[];
}

/** Result of {@link maskImageTokens}; arrays are row-major [B, N]. */
export interface ImageMaskingResult {
  /** Tokens with masked positions replaced by `maskId`. */
  inputIds: Int32Array;
  /** The original token at masked positions, {@link IGNORE_INDEX} elsewhere. */
  labels: Int32Array;
  /** 1 where masked. */
  mask: Uint8Array;
  /** Per-row mask probability (float32 values). */
  maskProb: Float32Array;
  /** Per-row number of positions the schedule asked for. */
  numMasked: Int32Array;
  /** Whether the contiguous-rectangle mode was drawn (one decision for the whole batch, as official). */
  contiguous: boolean;
  /** Whether the object-region mode was drawn (see `objectRegionProb`). */
  objectRegions: boolean;
}

/**
 * `training/utils.py mask_or_random_replace_tokens` with `noise_type="mask"` and `predict_all_tokens=False` (the
 * official defaults; the official `noise_type` test is always true, so random replacement is unreachable there).
 *
 * Randomness is drawn from `uniforms` in the official order: `B` timesteps, then — only when
 * `contiguousRegionProb` is set — one draw for the mode, then either `B·N` uniforms whose argsort is the random
 * permutation, or, per row, the `random.randint` draws of the rectangle (height, top, left).
 *
 * Computation (float32 like the original): `p = max(cos(t·π/2), minMaskingRate)`,
 * `num = max(1, round_half_even(N·p))`, `perm = argsort(u)`, and position j is masked when `perm[j] < num` — the
 * argsort **output** at j is compared, which is what the official code does (it is not "the num smallest
 * uniforms", though both mask exactly `num` positions).
 */
export function maskImageTokens(
  tokens: ArrayLike<number>,
  batch: number,
  seqLen: number,
  uniforms: UniformSource,
  options: ImageMaskingOptions,
): ImageMaskingResult {
  if (tokens.length !== batch * seqLen) {
    throw new InvalidArgumentError(`image tokens hold ${tokens.length} values, expected batch ${batch} × ${seqLen}`);
  }
  const minRate = Math.fround(options.minMaskingRate ?? 0);
  const maskProb = new Float32Array(batch);
  const numMasked = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    const p = Math.max(cosineMaskSchedule(Math.fround(uniforms.next())), minRate);
    maskProb[b] = p;
    numMasked[b] = Math.max(1, roundHalfEven(Math.fround(seqLen * p)));
  }
  const mask = new Uint8Array(batch * seqLen);
  const regionProb = options.objectRegionProb;
  if (regionProb !== undefined && !(regionProb >= 0 && regionProb <= 1)) throw new InvalidArgumentError(`objectRegionProb must be in [0, 1], got ${regionProb}`);
  const regions = options.objectRegions;
  if (regionProb !== undefined && regionProb > 0 && regions?.length !== batch) {
    throw new InvalidArgumentError(`objectRegionProb needs objectRegions for each of the ${batch} rows, got ${regions?.length ?? 0}`);
  }
  const byRegion = regionProb !== undefined && uniforms.next() < regionProb;
  // Rows of the region mode that have no region take the random mode below, like every row otherwise.
  const randomRows = new Uint8Array(batch).fill(1);
  if (byRegion) {
    for (let b = 0; b < batch; b++) {
      const cells = regions![b]!;
      if (cells.length === 0) continue;
      randomRows[b] = 0;
      let n = 0;
      for (const c of cells) {
        if (!(Number.isInteger(c) && c >= 0 && c < seqLen)) throw new InvalidArgumentError(`object region cell ${c} of row ${b} is outside the ${seqLen}-token grid`);
        if (!mask[b * seqLen + c]) n++;
        mask[b * seqLen + c] = 1;
      }
      numMasked[b] = n;
      maskProb[b] = Math.fround(n / seqLen);
    }
  }
  const prob = options.contiguousRegionProb;
  const contiguous = !byRegion && prob !== undefined && prob !== null && uniforms.next() < prob;
  if (!contiguous) {
    const u = new Float32Array(seqLen);
    const order = new Int32Array(seqLen);
    for (let b = 0; b < batch; b++) {
      if (!randomRows[b]) continue;
      for (let j = 0; j < seqLen; j++) {
        u[j] = uniforms.next();
        order[j] = j;
      }
      // argsort ascending; ties (practically absent) keep index order so the result is deterministic.
      const perm = Array.from(order).sort((x, y) => u[x] - u[y] || x - y);
      for (let j = 0; j < seqLen; j++) mask[b * seqLen + j] = perm[j] < numMasked[b] ? 1 : 0;
    }
  } else {
    const res = Math.floor(Math.sqrt(seqLen));
    if (res * res !== seqLen) throw new InvalidArgumentError(`contiguous masking needs a square token grid, got ${seqLen} tokens`);
    // Python's random.randint(a, b) is inclusive at both ends.
    const randint = (a: number, b: number) => a + Math.floor(uniforms.next() * (b - a + 1));
    for (let b = 0; b < batch; b++) {
      const n = numMasked[b];
      const h = Math.min(randint(Math.ceil(n / res), Math.min(res, n)), res);
      const w = Math.min(Math.ceil(n / h), res);
      const top = randint(0, res - h);
      const left = randint(0, res - w);
      for (let y = top; y < top + h; y++) for (let x = left; x < left + w; x++) mask[b * seqLen + y * res + x] = 1;
    }
  }
  const inputIds = new Int32Array(batch * seqLen);
  const labels = new Int32Array(batch * seqLen);
  for (let i = 0; i < batch * seqLen; i++) {
    inputIds[i] = mask[i] ? options.maskId : tokens[i];
    labels[i] = mask[i] ? tokens[i] : IGNORE_INDEX;
  }
  return { inputIds, labels, mask, maskProb, numMasked, contiguous, objectRegions: byRegion };
}

import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@showo/runtime';
import { IGNORE_INDEX } from './masking.js';

/** Labels on the host: flat row-major [B·L] or one array per row. */
export type LabelsInput = ArrayLike<number> | readonly ArrayLike<number>[];

function flattenLabels(labels: LabelsInput, rows: number, cols: number): ArrayLike<number> {
  const first = (labels as ArrayLike<unknown>)[0];
  if (rows > 0 && typeof first === 'object' && first !== null) {
    const nested = labels as readonly ArrayLike<number>[];
    if (nested.length !== rows) throw new InvalidArgumentError(`labels have ${nested.length} rows, logits ${rows}`);
    const flat = new Int32Array(rows * cols);
    nested.forEach((row, b) => {
      if (row.length !== cols) throw new InvalidArgumentError(`labels row ${b} has ${row.length} entries, logits ${cols}`);
      for (let i = 0; i < cols; i++) flat[b * cols + i] = row[i];
    });
    return flat;
  }
  const flat = labels as ArrayLike<number>;
  if (flat.length !== rows * cols) throw new InvalidArgumentError(`labels hold ${flat.length} values, logits need ${rows}×${cols}`);
  return flat;
}

/**
 * Mean cross-entropy per group, computed in one pass: a row-wise log-sum-exp over all rows, the label logit picked
 * by a one-hot multiply (no `gather`, whose gradient the wasm backend lacks), and the per-group means as one small
 * matMul of the per-row losses with a [rows, groups] weight matrix (1/count of the row's group, 0 for ignored rows).
 *
 * `logits2d` [R, V]; `targets[r]` is the class of row r or {@link IGNORE_INDEX}; `group[r]` ∈ [0, numGroups) or -1.
 * A group without any labelled row has mean 0 (the official code would produce NaN there). Returns [numGroups].
 */
export function groupedCrossEntropy(logits2d: tf.Tensor2D, targets: ArrayLike<number>, group: ArrayLike<number>, numGroups: number): tf.Tensor1D {
  const [rows, vocab] = logits2d.shape;
  if (targets.length !== rows || group.length !== rows) {
    throw new InvalidArgumentError(`cross-entropy: ${rows} logit rows but ${targets.length} targets and ${group.length} group ids`);
  }
  const counts = new Float64Array(numGroups);
  const picked = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const t = targets[r];
    const g = group[r];
    if (t === IGNORE_INDEX || g < 0) {
      picked[r] = -1; // tf.oneHot writes a zero row for an index outside [0, V)
      continue;
    }
    if (!Number.isInteger(t) || t < 0 || t >= vocab) throw new InvalidArgumentError(`label ${t} at row ${r} is outside the vocabulary [0, ${vocab})`);
    if (g >= numGroups) throw new InvalidArgumentError(`group ${g} at row ${r} is outside [0, ${numGroups})`);
    picked[r] = t;
    counts[g]++;
  }
  const weights = new Float32Array(rows * numGroups);
  for (let r = 0; r < rows; r++) if (picked[r] >= 0) weights[r * numGroups + group[r]] = 1 / counts[group[r]];
  return tf.tidy(() => {
    // int32 one-hot then cast: the wasm OneHot kernel ignores a float32 dtype and writes integer bits.
    const oneHot = tf.cast(tf.oneHot(tf.tensor1d(picked, 'int32'), vocab), 'float32') as tf.Tensor2D;
    const w = tf.tensor2d(weights, [rows, numGroups]);
    return weightedNll(logits2d, oneHot, w).reshape([numGroups]) as tf.Tensor1D;
  });
}

/**
 * `Σ_r w[r, g] · (logsumexp(x_r) − x_r · onehot_r)` → [1, G], with a hand-written gradient
 * `dx = (softmax(x) − onehot) ⊙ (w · dyᵀ)`: a few passes over the [R, V] logits instead of the ~15 that
 * `logSoftmax` + multiply + sum and their built-in gradients take (the logits are the largest activation of a
 * training step). `oneHot` and `w` are constants (no gradient).
 */
function weightedNll(x: tf.Tensor2D, oneHot: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  const [rows] = x.shape;
  const op = tf.customGrad(((logits: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const max = tf.max(logits, 1, true);
    const e = tf.exp(tf.sub(logits, max));
    const z = tf.sum(e, 1, true);
    const nll = tf.sub(tf.add(tf.log(z), max), tf.sum(tf.mul(logits, oneHot), 1, true)); // [R, 1]
    save([e, z, oneHot, w]);
    return {
      value: tf.matMul(nll.reshape([1, rows]), w),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [es, zs, oh, ws] = saved;
          const rowWeight = tf.matMul(ws as tf.Tensor2D, dy.reshape([-1, 1]) as tf.Tensor2D); // [R, 1]
          return tf.mul(tf.sub(tf.div(es, zs), oh), rowWeight);
        }),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x) as tf.Tensor2D;
}

/** Mean cross-entropy over rows whose target is not {@link IGNORE_INDEX}. logits [..., V], targets flat. */
export function crossEntropy(logits: tf.Tensor, targets: ArrayLike<number>): tf.Scalar {
  return tf.tidy(() => {
    const vocab = logits.shape[logits.shape.length - 1];
    const rows = logits.size / vocab;
    const parts = groupedCrossEntropy(logits.reshape([rows, vocab]) as tf.Tensor2D, targets, new Int32Array(rows), 1);
    return parts.reshape([]) as tf.Scalar;
  });
}

/** Loss weights of the three Show-o tasks (official defaults: t2i 1.0, lm 0.1, mmu 1.0). */
export interface ShowoLossCoefficients {
  t2i: number;
  lm: number;
  mmu: number;
}

export const OFFICIAL_LOSS_COEFFICIENTS: Readonly<ShowoLossCoefficients> = Object.freeze({ t2i: 1, lm: 0.1, mmu: 1 });

/** Batch layout of a mixed Show-o batch: t2i rows first, then lm rows, then mmu rows. */
export interface ShowoLossOptions {
  batchT2i: number;
  batchLm: number;
  batchMmu: number;
  /** `max_seq_length` (MSL): the t2i loss starts at position MSL+1, the `<|soi|>` token. */
  maxSeqLength: number;
  coefficients?: Partial<ShowoLossCoefficients>;
}

/** The three losses and their weighted sum (scalars; the caller disposes them). */
export interface ShowoLosses {
  t2i: tf.Scalar;
  lm: tf.Scalar;
  mmu: tf.Scalar;
  total: tf.Scalar;
  /** Labelled positions of each part (what each mean divides by). */
  counts: { t2i: number; lm: number; mmu: number };
}

/**
 * The losses of `Showo.forward(..., labels, batch_size_t2i, batch_size_lm, batch_size_mmu, max_seq_length)`,
 * including its quirks:
 * - t2i: `CE(logits[:bt, MSL+1:], labels[:bt, MSL+1:])` — **not shifted**; the labels there are `<|soi|>`, the true
 *   codes at masked positions (-100 elsewhere) and `<|eoi|>`, all counted;
 * - lm: `CE(logits[bt:bt+bl, :-1], labels[bt:bt+bl, 1:])` (shifted);
 * - mmu: `CE(logits[-bm:, :-1], labels[-bm:, 1:])` (shifted);
 * - each a mean over labels ≠ -100; label smoothing is ignored (as the official code ignores it).
 * `total = c.t2i·t2i + c.lm·lm + c.mmu·mmu`. A part with no rows (or no labels) is 0, not NaN.
 * Everything is one logSoftmax over [B·L, V] and a one-hot pick (see {@link groupedCrossEntropy}).
 */
export function showoLosses(logits: tf.Tensor3D, labels: LabelsInput, options: ShowoLossOptions): ShowoLosses {
  const [batch, len, vocab] = logits.shape;
  const plan = showoLossPlan(labels, batch, len, options);
  return weightedParts(logits, batch * len, vocab, plan.targets, plan.group, plan.counts, options.coefficients);
}

/**
 * The host-side half of {@link showoLosses}: which label each flat logits row `b·L + i` is scored against (or
 * {@link IGNORE_INDEX}), in which loss (`group` 0 t2i, 1 lm, 2 mmu), and how many labelled rows each loss has.
 */
export interface ShowoLossPlan {
  targets: Int32Array;
  group: Int32Array;
  counts: { t2i: number; lm: number; mmu: number };
}

/** The {@link ShowoLossPlan} of a batch of `batch` rows of length `len` (labels as for {@link showoLosses}). */
export function showoLossPlan(labels: LabelsInput, batch: number, len: number, options: ShowoLossOptions): ShowoLossPlan {
  const { batchT2i: bt, batchLm: bl, batchMmu: bm, maxSeqLength: msl } = options;
  if (bt + bl + bm !== batch) throw new InvalidArgumentError(`batch sizes t2i ${bt} + lm ${bl} + mmu ${bm} do not add up to the logits batch ${batch}`);
  if (bt > 0 && !(msl + 1 < len)) throw new InvalidArgumentError(`max_seq_length ${msl} leaves no image positions in sequences of length ${len}`);
  const flat = flattenLabels(labels, batch, len);
  const targets = new Int32Array(batch * len).fill(IGNORE_INDEX);
  const group = new Int32Array(batch * len).fill(-1);
  const counts = [0, 0, 0];
  for (let b = 0; b < batch; b++) {
    const g = b < bt ? 0 : b < bt + bl ? 1 : 2;
    for (let i = 0; i < len; i++) {
      const r = b * len + i;
      // t2i pairs logits row i with label i (from MSL+1 on); lm and mmu pair row i with label i+1.
      const t = g === 0 ? (i >= msl + 1 ? flat[r] : IGNORE_INDEX) : i < len - 1 ? flat[r + 1] : IGNORE_INDEX;
      targets[r] = t;
      group[r] = g;
      if (t !== IGNORE_INDEX) counts[g]++;
    }
  }
  return { targets, group, counts: { t2i: counts[0], lm: counts[1], mmu: counts[2] } };
}

/**
 * The flat rows that carry a label in any of the given target arrays (each [B·L], {@link IGNORE_INDEX} = none), in
 * ascending order: the only rows whose logits a loss reads. Never empty (row 0 stands in when nothing is labelled),
 * so that a forward pass can always be asked for them.
 */
export function labelledRows(...targets: (ArrayLike<number> | undefined)[]): Int32Array {
  const given = targets.filter((t): t is ArrayLike<number> => t !== undefined);
  const n = given[0]?.length ?? 0;
  const rows: number[] = [];
  for (let r = 0; r < n; r++) if (given.some((t) => t[r] !== IGNORE_INDEX)) rows.push(r);
  return Int32Array.from(rows.length > 0 ? rows : [0]);
}

/** `values[rows[k]]` for each k. */
function pickRows(values: ArrayLike<number>, rows: ArrayLike<number>): Int32Array {
  const out = new Int32Array(rows.length);
  for (let k = 0; k < rows.length; k++) out[k] = values[rows[k]];
  return out;
}

/**
 * {@link showoLosses} from the logits of some rows only: `logits` [R, V] (or [1, R, V]) hold the flat rows `rows` of
 * the batch whose {@link ShowoLossPlan} is `plan`. Equal to the full computation when `rows` include every labelled
 * row (see {@link labelledRows}); the lm_head and the softmax then skip every row that no loss reads.
 */
export function showoLossesOnRows(logits: tf.Tensor, rows: ArrayLike<number>, plan: ShowoLossPlan, coefficients?: Partial<ShowoLossCoefficients>): ShowoLosses {
  const vocab = logits.shape[logits.shape.length - 1];
  if (logits.size !== rows.length * vocab) throw new InvalidArgumentError(`logits of shape [${logits.shape.join(', ')}] do not hold the ${rows.length} selected rows`);
  return weightedParts(logits, rows.length, vocab, pickRows(plan.targets, rows), pickRows(plan.group, rows), plan.counts, coefficients);
}

/** The three grouped means and their weighted sum from logits viewed as [rows, vocab] (every intermediate tidied). */
function weightedParts(logits: tf.Tensor, rows: number, vocab: number, targets: Int32Array, group: Int32Array, counts: ShowoLosses['counts'], coefficients: Partial<ShowoLossCoefficients> | undefined): ShowoLosses {
  const c = { ...OFFICIAL_LOSS_COEFFICIENTS, ...coefficients };
  const [t2i, lm, mmu, total] = tf.tidy(() => {
    const parts = groupedCrossEntropy(logits.reshape([rows, vocab]) as tf.Tensor2D, targets, group, 3);
    const weighted = tf.sum(tf.mul(parts, tf.tensor1d([c.t2i, c.lm, c.mmu])));
    return [...tf.unstack(parts), weighted] as tf.Scalar[];
  });
  return { t2i, lm, mmu, total, counts: { ...counts } };
}

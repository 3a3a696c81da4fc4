import * as tf from '@tensorflow/tfjs';
import type { AllowMaskLike } from '@showo/showo-core';
import { crossEntropy, labelledRows, showoLossPlan, showoLossesOnRows, type ShowoLossCoefficients, type ShowoLossPlan } from '../losses.js';
import { InvalidArgumentError } from '@showo/runtime';
import type { EngineCall, EngineTrainable, LossOutput, TrainableModel } from '../types.js';
import type { ShowoBatch } from './batch.js';

/** What the Show-o task needs of a model (`ShowoModel` of `@showo/showo-core` fits). */
export interface ShowoForwardModel {
  /**
   * ids int32 [B, L], allow-mask [B, L, L] → logits [B, L, V]; differentiable in the model's variables. With
   * `options.logits.rows` (flat indices b·L + i) a model may return the logits of those rows only, as [1, R, V]:
   * training then skips the lm_head on every unlabelled position. A model that ignores the option still works.
   */
  forward(ids: tf.Tensor, allow: AllowMaskLike, options?: { logits?: { rows: ArrayLike<number> } }): tf.Tensor3D;
  /** Parameters by stable (official) name. */
  namedVariables(): ReadonlyMap<string, tf.Variable>;
}

/** Options of {@link ShowoTask}. */
export interface ShowoTaskOptions {
  /** MSL of the prompts (`max_seq_length`); the t2i loss starts at MSL + 1. */
  maxSeqLength: number;
  /** Loss weights (default official: t2i 1, lm 0.1, mmu 1). */
  coefficients?: Partial<ShowoLossCoefficients>;
  /** Weight of the next-token loss on how-to step texts (batches with `ntpTargets`; default 1). */
  howtoTextWeight?: number;
}

/** The batch facts the Show-o losses need besides the tensors (plain data: it also travels to engine workers). */
export interface ShowoLossLayout {
  kind: ShowoBatch['kind'];
  batchT2i: number;
  batchLm: number;
  batchMmu: number;
  maxSeqLength: number;
  coefficients?: Partial<ShowoLossCoefficients>;
  howtoTextWeight?: number;
}

/**
 * Runs the model on a batch, asking for the logits of the labelled rows only, and returns the Show-o training loss
 * ({@link showoBatchLoss}). Shared by {@link ShowoTask.lossFn} and the engine function that runs the same loss in a
 * worker.
 */
export function showoForwardLoss<Allow = AllowMaskLike>(
  model: { forward(ids: tf.Tensor, allow: Allow, options?: { logits?: { rows: ArrayLike<number> } }): tf.Tensor3D },
  ids: tf.Tensor,
  allow: Allow,
  labels: Int32Array,
  ntpTargets: Int32Array | undefined,
  layout: ShowoLossLayout,
): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
  const shape = ids.shape as [number, number];
  const plan = showoLossPlan(labels, shape[0], shape[1], layout);
  const labelled = labelledRows(plan.targets, ntpTargets);
  const logits = model.forward(ids, allow, { logits: { rows: labelled } });
  // A model that ignores the selection returns every row: score all of them.
  const everyRow = logits.shape[0] * logits.shape[1] === shape[0] * shape[1] && logits.shape[0] === shape[0];
  const rows = everyRow ? Int32Array.from({ length: shape[0] * shape[1] }, (_, r) => r) : labelled;
  return showoBatchLoss(logits, rows, plan, ntpTargets, layout);
}

/**
 * The Show-o training loss of one batch from the logits of its rows `rows` ([1, R, V] or [B, L, V] for every row):
 * the official losses, with parts named `t2i` (or `howto` for how-to batches), `lm`, `mmu`, and `howto_text` when
 * next-token targets are given.
 */
export function showoBatchLoss(logits: tf.Tensor3D, rows: Int32Array, plan: ShowoLossPlan, ntpTargets: Int32Array | undefined, layout: ShowoLossLayout): { total: tf.Scalar; parts: Record<string, tf.Scalar> } {
  const l = showoLossesOnRows(logits, rows, plan, layout.coefficients);
  const parts: Record<string, tf.Scalar> = {};
  if (layout.batchT2i > 0) parts[layout.kind === 'howto' ? 'howto' : 't2i'] = l.t2i;
  if (layout.batchLm > 0) parts.lm = l.lm;
  if (layout.batchMmu > 0) parts.mmu = l.mmu;
  if (!ntpTargets) return { total: l.total, parts };
  // Interleaved how-to rows also carry next-token targets on their step texts (free-mode generation).
  const picked = new Int32Array(rows.length);
  for (let k = 0; k < rows.length; k++) picked[k] = ntpTargets[rows[k]];
  const text = crossEntropy(logits, picked);
  parts.howto_text = text;
  return { total: tf.add(l.total, tf.mul(text, layout.howtoTextWeight ?? 1)) as tf.Scalar, parts };
}

/** Options of the Show-o engine function (`showoLoss` in the trainer's Show-o engine module). */
export interface ShowoEngineOptions extends ShowoLossLayout {
  /** The model config (`ShowoModel.config`): the worker rebuilds the model over its mirrored weights. */
  config: unknown;
}

const ENGINE_MODULE = new URL(import.meta.url.endsWith('.ts') ? './engine.ts' : './engine.js', import.meta.url);

/**
 * Show-o as a {@link TrainableModel}: one forward pass over a prepared {@link ShowoBatch} and the official losses
 * ({@link showoBatchLoss}). Parts are reported as `t2i`, `lm`, `mmu` for mixed batches and `howto` for how-to
 * batches (plus `howto_text`, the next-token loss on step texts, when the batch has `ntpTargets`); parts without
 * rows are left out. Tokens per batch: B·L (every position runs through the layers; the lm_head only on labelled rows).
 *
 * When the model exposes its `config` (showo-core's `ShowoModel` does), the task is also an
 * {@link EngineTrainable}: `train({ workers: 2 })` runs its micro-batches on both cores.
 */
export class ShowoTask implements TrainableModel<ShowoBatch>, EngineTrainable<ShowoBatch> {
  readonly engineModule: URL = ENGINE_MODULE;

  constructor(
    readonly model: ShowoForwardModel,
    readonly options: ShowoTaskOptions,
  ) {}

  trainableVariables(): Record<string, tf.Variable> {
    return Object.fromEntries(this.model.namedVariables());
  }

  private layout(batch: ShowoBatch): ShowoLossLayout {
    return {
      kind: batch.kind,
      batchT2i: batch.batchT2i,
      batchLm: batch.batchLm,
      batchMmu: batch.batchMmu,
      maxSeqLength: this.options.maxSeqLength,
      ...(this.options.coefficients ? { coefficients: this.options.coefficients } : {}),
      ...(this.options.howtoTextWeight !== undefined ? { howtoTextWeight: this.options.howtoTextWeight } : {}),
    };
  }

  lossFn(batch: ShowoBatch): LossOutput {
    const ids = tf.tensor2d(batch.inputIds, [batch.batch, batch.length], 'int32');
    const { total, parts } = showoForwardLoss(this.model, ids, batch.allow, batch.labels, batch.ntpTargets, this.layout(batch));
    return { total, parts, tokens: batch.batch * batch.length };
  }

  engineCall(batch: ShowoBatch): EngineCall {
    const config = (this.model as { config?: unknown }).config;
    if (!config) throw new InvalidArgumentError('ShowoTask: training on two engines needs a model that exposes its config (showo-core ShowoModel)');
    const shape: [number, number] = [batch.batch, batch.length];
    const inputs: Record<string, tf.Tensor> = {
      ids: tf.tensor2d(batch.inputIds, shape, 'int32'),
      labels: tf.tensor2d(batch.labels, shape, 'int32'),
      allow: tf.tensor3d(batch.allow.data, [batch.allow.batch, batch.allow.queries, batch.allow.keys], 'bool'),
    };
    if (batch.ntpTargets) inputs.ntp = tf.tensor2d(batch.ntpTargets, shape, 'int32');
    const options: ShowoEngineOptions = { ...this.layout(batch), config };
    return { fn: 'showoLoss', inputs, options, tokens: batch.batch * batch.length };
  }
}

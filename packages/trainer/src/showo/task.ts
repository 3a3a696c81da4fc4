import * as tf from '@tensorflow/tfjs';
import type { AllowMaskLike } from '@showo/showo-core';
import { crossEntropy, showoLosses, type ShowoLossCoefficients } from '../losses.js';
import type { LossOutput, TrainableModel } from '../types.js';
import type { ShowoBatch } from './batch.js';

/** What the Show-o task needs of a model (`ShowoModel` of `@showo/showo-core` fits). */
export interface ShowoForwardModel {
  /** ids int32 [B, L], allow-mask [B, L, L] → logits [B, L, V]; differentiable in the model's variables. */
  forward(ids: tf.Tensor, allow: AllowMaskLike): tf.Tensor3D;
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

/**
 * Show-o as a {@link TrainableModel}: one forward pass over a prepared {@link ShowoBatch} and the official losses
 * (`showoLosses`). Parts are reported as `t2i`, `lm`, `mmu` for mixed batches and `howto` for how-to batches
 * (plus `howto_text`, the next-token loss on step texts, when the batch has `ntpTargets`); parts without rows are
 * left out. Tokens per batch: B·L (every position is computed).
 */
export class ShowoTask implements TrainableModel<ShowoBatch> {
  constructor(
    readonly model: ShowoForwardModel,
    readonly options: ShowoTaskOptions,
  ) {}

  trainableVariables(): Record<string, tf.Variable> {
    return Object.fromEntries(this.model.namedVariables());
  }

  lossFn(batch: ShowoBatch): LossOutput {
    const ids = tf.tensor2d(batch.inputIds, [batch.batch, batch.length], 'int32');
    const logits = this.model.forward(ids, batch.allow);
    const l = showoLosses(logits, batch.labels, {
      batchT2i: batch.batchT2i,
      batchLm: batch.batchLm,
      batchMmu: batch.batchMmu,
      maxSeqLength: this.options.maxSeqLength,
      ...(this.options.coefficients ? { coefficients: this.options.coefficients } : {}),
    });
    const parts: Record<string, tf.Scalar> = {};
    if (batch.batchT2i > 0) parts[batch.kind === 'howto' ? 'howto' : 't2i'] = l.t2i;
    if (batch.batchLm > 0) parts.lm = l.lm;
    if (batch.batchMmu > 0) parts.mmu = l.mmu;
    if (batch.ntpTargets) {
      // Interleaved how-to rows also carry next-token targets on their step texts (free-mode generation).
      const text = crossEntropy(logits, batch.ntpTargets);
      parts.howto_text = text;
      const total = tf.add(l.total, tf.mul(text, this.options.howtoTextWeight ?? 1)) as tf.Scalar;
      return { total, parts, tokens: batch.batch * batch.length };
    }
    return { total: l.total, parts, tokens: batch.batch * batch.length };
  }
}

import type * as tf from '@tensorflow/tfjs';

/** A value that survives `JSON.stringify` / `JSON.parse` unchanged (what checkpoints store for non-tensor state). */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * Something whose position can be saved and restored: random generators, data streams, task state. The trainer
 * stores `getState()` in each checkpoint and calls `setState()` on resume, so the run continues exactly.
 * (`SeededRandom` from `@showo/runtime` fits this interface as it is.)
 */
export interface Stateful {
  getState(): JsonValue;
  setState(state: JsonValue): void;
}

/** What one loss evaluation returns. Every tensor must be a scalar; the trainer disposes them. */
export interface LossOutput {
  /** The scalar that is differentiated. */
  total: tf.Scalar;
  /** Named parts for the metrics (e.g. `t2i`, `lm`, `mmu`); not differentiated separately. */
  parts?: Readonly<Record<string, tf.Scalar>>;
  /** Training tokens in this batch (for tokens/s); default: none reported. */
  tokens?: number;
}

/** The variables a model trains, either a list (named by `variable.name`) or a record keyed by stable names. */
export type VariableSet = readonly tf.Variable[] | Readonly<Record<string, tf.Variable>>;

/**
 * What the generic loop trains: anything with trainable variables and a differentiable loss of a batch. Show-o
 * (through {@link ShowoTask}) and the MAGVIT tokenizer (`magvitLoss` + `trainableVariables()`) both fit.
 * `lossFn` runs inside a gradient tape: it must build its result from the variables with tfjs ops, and it
 * should not read tensors back to the host.
 */
export interface TrainableModel<B> {
  trainableVariables(): VariableSet;
  lossFn(batch: B): LossOutput;
}

/**
 * What one batch looks like to an engine function (see {@link EngineTrainable}): the function to run, its tensor
 * inputs (created for this call; the trainer disposes them) and plain-data options (structured-cloneable).
 */
export interface EngineCall {
  fn: string;
  inputs: Record<string, tf.Tensor>;
  options: unknown;
  /** Training tokens in this batch (for tokens/s). */
  tokens?: number;
}

/**
 * A model whose loss can also run inside a `DualEngine` of `@showo/runtime` (a second tfjs engine in a worker
 * thread: the second core on wasm). The engine module exports `fn` of every {@link EngineCall}: it rebuilds the
 * model over `ctx.weights` (keyed by the names of `trainableVariables()`) and returns `{ loss, ...parts }`, the
 * same numbers as `lossFn`. `train({ workers: 2 })` then runs the micro-batches of a step two at a time.
 */
export interface EngineTrainable<B> {
  /** The engine module (file URL or path; a `.ts` file works when running from sources). */
  readonly engineModule: string | URL;
  engineCall(batch: B): EngineCall;
}

/** Whether a model can train on a `DualEngine` (has an engine module and `engineCall`). */
export function isEngineTrainable<B>(model: TrainableModel<B>): model is TrainableModel<B> & EngineTrainable<B> {
  const m = model as Partial<EngineTrainable<B>>;
  return typeof m.engineCall === 'function' && (typeof m.engineModule === 'string' || m.engineModule instanceof URL);
}

/** The data a training run consumes: any (async) iterable or iterator of batches. */
export type DataInput<B> = Iterable<B> | AsyncIterable<B> | Iterator<B> | AsyncIterator<B>;

/** Losses of one optimiser step (means over its micro-batches). */
export interface StepLosses {
  total: number;
  parts: Record<string, number>;
}

/** Emitted once before the first step. */
export interface StartEvent {
  type: 'start';
  /** Optimiser steps already done (non-zero when resumed). */
  step: number;
  totalSteps: number;
  /** The checkpoint the run resumed from, if any. */
  resumedFrom?: string;
  /** Trainable parameters (scalars). */
  parameters: number;
}

/** Emitted after every optimiser step. */
export interface StepEvent {
  type: 'step';
  /** 1-based number of optimiser steps completed. */
  step: number;
  totalSteps: number;
  loss: number;
  parts: Record<string, number>;
  /** The learning rate this step used. */
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** True when the update was skipped because the loss or the gradient norm was not finite. */
  skipped: boolean;
  /** Training tokens of this step (sum over micro-batches). */
  tokens: number;
  tokensPerSecond: number;
  /** Wall time of this step, ms. */
  stepMs: number;
  /** Wall time since this run (not the whole training) started, ms. */
  elapsedMs: number;
  /** Estimated time to `totalSteps`, ms (from a moving average of step times). */
  etaMs: number;
}

/** Emitted after a checkpoint is on disk. */
export interface CheckpointEvent {
  type: 'checkpoint';
  step: number;
  path: string;
}

/** Emitted after an evaluation callback returned. */
export interface EvalEvent {
  type: 'eval';
  step: number;
  metrics: Record<string, number>;
}

/** The last event: why the run ended. */
export interface DoneEvent {
  type: 'done';
  step: number;
  reason: 'completed' | 'aborted';
  elapsedMs: number;
  /** The final checkpoint, when checkpointing is on. */
  checkpoint?: string;
}

/** Everything a training run reports. */
export type TrainEvent = StartEvent | StepEvent | CheckpointEvent | EvalEvent | DoneEvent;

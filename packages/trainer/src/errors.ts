import { ShowoError } from '@showo/runtime';

/** Why a checkpoint was refused. */
export type CheckpointProblem =
  /** no checkpoint at the given place (or the folder has no manifest) */
  | 'MISSING'
  /** a file is missing, truncated, altered (size or SHA-256 differ from the manifest) or unreadable */
  | 'CORRUPT'
  /** the checkpoint is intact but was written for another model, optimiser or run (names, shapes, fingerprint) */
  | 'MISMATCH'
  /** the manifest is not a trainer checkpoint of a version this code reads */
  | 'FORMAT';

/** A checkpoint that cannot be used. `problem` says which kind of failure; the message names the file or tensor. */
export class CheckpointError extends ShowoError {
  readonly problem: CheckpointProblem;
  readonly path: string;
  constructor(problem: CheckpointProblem, path: string, message: string, options?: { cause?: unknown }) {
    super(`CHECKPOINT_${problem}`, `checkpoint ${path}: ${message}`, options);
    this.problem = problem;
    this.path = path;
  }
}

/** A training configuration (JSON stage file or options object) that is invalid. */
export class TrainerConfigError extends ShowoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TRAINER_CONFIG', message, options);
  }
}

/** The data stream ended before the requested number of steps. */
export class DataExhaustedError extends ShowoError {
  constructor(step: number) {
    super('DATA_EXHAUSTED', `the training data ended after ${step} optimiser steps, before the requested total`);
  }
}

import { ShowoError } from '@showo/runtime';

/** What is wrong with a model folder. */
export type ModelBundleProblem = 'NOT_FOUND' | 'INCOMPLETE' | 'INVALID';

/**
 * A model folder that cannot be used: it does not exist, files are missing (all of them are named at once), or a
 * file it holds is unreadable or inconsistent with the others. The message is one line a user can act on.
 */
export class ModelBundleError extends ShowoError {
  readonly problem: ModelBundleProblem;
  readonly dir: string;
  /** The missing files, relative to {@link dir} (for `INCOMPLETE`). */
  readonly missing: readonly string[];
  constructor(problem: ModelBundleProblem, dir: string, message: string, missing: readonly string[] = [], options?: { cause?: unknown }) {
    super(`MODEL_BUNDLE_${problem}`, message, options);
    this.problem = problem;
    this.dir = dir;
    this.missing = missing;
  }
}

/** A stream that was asked for its result ended without one (it was cancelled or aborted first). */
export class NoResultError extends ShowoError {
  constructor(what: string) {
    super('NO_RESULT', `${what} ended without a result (cancelled or aborted)`);
  }
}

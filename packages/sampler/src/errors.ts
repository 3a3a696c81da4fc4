import { InvalidArgumentError, ShowoError } from '@showo/runtime';

/**
 * Every argument error of the sampler is an {@link InvalidArgumentError} (code `INVALID_ARGUMENT`) subclass, so
 * a caller can catch them all at once, or one kind by class. They are all thrown synchronously by the function
 * that creates a generation, before any tensor is made and before the returned Observable is subscribed.
 */

/** `steps` is not an integer ≥ 1. */
export class InvalidStepsError extends InvalidArgumentError {
  constructor(readonly steps: unknown) {
    super(`steps must be an integer ≥ 1, got ${String(steps)}`);
  }
}

/** A mask schedule name that is not cosine, linear, powN or sigmoid. */
export class UnknownScheduleError extends InvalidArgumentError {
  constructor(readonly schedule: string) {
    super(`unknown mask schedule "${schedule}" (choose cosine, linear, pow<N> such as pow2 or pow0.5, sigmoid, or pass a function)`);
  }
}

/** Guidance scale (or temperature, top-k, top-p …) out of its range. */
export class InvalidSamplingOptionError extends InvalidArgumentError {
  constructor(
    readonly option: string,
    readonly value: unknown,
    requirement: string,
  ) {
    super(`${option} must be ${requirement}, got ${String(value)}`);
  }
}

/** An image, mask, code grid or batch that does not match the model's image size / token grid. */
export class ImageSizeMismatchError extends InvalidArgumentError {
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${what} is ${actual}, but the model expects ${expected}`);
  }
}

/** A prompt that does not fit the model's text budget (`max_seq_length`) or its position budget. */
export class PromptBudgetError extends InvalidArgumentError {
  constructor(
    readonly row: number,
    readonly length: number,
    readonly limit: number,
    what = 'prompt',
  ) {
    super(`${what} of batch row ${row} has ${length} tokens, more than the budget of ${limit}`);
  }
}

/** An extrapolation request the model cannot serve with its token grid and position budget. */
export class ExtrapolationBudgetError extends InvalidArgumentError {
  constructor(message: string) {
    super(message);
  }
}

/** A model handed to the sampler returned a tensor of an unexpected shape. */
export class ModelOutputError extends ShowoError {
  constructor(message: string) {
    super('MODEL_OUTPUT', message);
  }
}

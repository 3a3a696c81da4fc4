/**
 * Base class of every error thrown by showo-ts packages. `code` is stable and machine-readable;
 * the message names the problem in words a user can act on.
 */
export class ShowoError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An argument has the wrong shape, size, range or type. */
export class InvalidArgumentError extends ShowoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options);
  }
}

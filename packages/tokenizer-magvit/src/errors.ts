import { InvalidArgumentError, ShowoError } from '@showo/runtime';

/** A tokenizer config that cannot describe a working model (bad numbers, inconsistent parts). */
export class MagvitConfigError extends ShowoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MAGVIT_CONFIG', message, options);
  }
}

/** A weights file that does not fit the config: missing, unexpected or mis-shaped parameters. */
export class MagvitWeightsError extends ShowoError {
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('MAGVIT_WEIGHTS', `${file}: ${message}`, options);
  }
}

/** An image (tensor or decoded file) of the wrong size or channel count for the model. */
export class ImageShapeError extends InvalidArgumentError {}

/** A code index outside [0, codebookSize) or a code grid of the wrong length. */
export class CodeRangeError extends InvalidArgumentError {}

/** An image file that is neither PNG nor JPEG. */
export class UnsupportedImageError extends ShowoError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super('IMAGE_UNSUPPORTED', `${file}: ${message}`);
  }
}

/** A PNG or JPEG file that could not be decoded (truncated, corrupt). */
export class CorruptImageError extends ShowoError {
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('IMAGE_CORRUPT', `${file}: ${message}`, options);
  }
}

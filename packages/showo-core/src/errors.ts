import { ShowoError } from '@showo/runtime';

/** A config.json (or config object) is missing fields or holds values that cannot describe a Show-o model. */
export class ShowoConfigError extends ShowoError {
  /** One line per problem found (all are reported at once, not just the first). */
  readonly problems: readonly string[];
  constructor(problems: readonly string[], source = 'config') {
    super('SHOWO_CONFIG_INVALID', `${source}: invalid Show-o config:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/** A shape that is expected by the model next to the one the checkpoint holds. */
export interface ShapeMismatch {
  name: string;
  expected: readonly number[];
  actual: readonly number[];
}

/**
 * A checkpoint does not match the model its config describes. Every problem is listed, so one run tells the user
 * everything that is wrong (e.g. a checkpoint of another size, or a file from a different architecture).
 */
export class CheckpointMismatchError extends ShowoError {
  readonly missing: readonly string[];
  readonly unexpected: readonly string[];
  readonly misShaped: readonly ShapeMismatch[];
  /** Tensors stored with an integer dtype where float weights belong. */
  readonly wrongDtype: readonly { name: string; dtype: string }[];
  constructor(
    file: string,
    missing: readonly string[],
    unexpected: readonly string[],
    misShaped: readonly ShapeMismatch[],
    wrongDtype: readonly { name: string; dtype: string }[] = [],
  ) {
    const parts: string[] = [];
    const list = (xs: readonly string[]) => (xs.length > 12 ? [...xs.slice(0, 12), `… (${xs.length - 12} more)`] : xs).join(', ');
    if (missing.length) parts.push(`missing ${missing.length} tensor(s): ${list(missing)}`);
    if (unexpected.length) parts.push(`unexpected ${unexpected.length} tensor(s): ${list(unexpected)}`);
    if (misShaped.length) {
      parts.push(
        `mis-shaped ${misShaped.length} tensor(s): ${list(misShaped.map((m) => `${m.name} is [${m.actual.join(',')}], expected [${m.expected.join(',')}]`))}`,
      );
    }
    if (wrongDtype.length) parts.push(`non-float dtype in ${wrongDtype.length} tensor(s): ${list(wrongDtype.map((d) => `${d.name} is ${d.dtype}`))}`);
    super('CHECKPOINT_MISMATCH', `${file}: checkpoint does not match the config:\n  ${parts.join('\n  ')}`);
    this.missing = missing;
    this.unexpected = unexpected;
    this.misShaped = misShaped;
    this.wrongDtype = wrongDtype;
  }
}

/**
 * The model would not fit the active backend's memory. Raised before any weight is read: on wasm (wasm32,
 * at most 4 GiB, and allocations past ~3.5 GiB silently corrupt data) a 1.3 B-parameter model can never work.
 */
export class ModelTooLargeError extends ShowoError {
  constructor(
    readonly backend: string,
    readonly requiredBytes: number,
    readonly budgetBytes: number,
  ) {
    const gib = (n: number) => (n / 2 ** 30).toFixed(2);
    super(
      'MODEL_TOO_LARGE',
      `the model needs ${gib(requiredBytes)} GiB of float32 weights but the ${backend} backend's safe budget is ${gib(budgetBytes)} GiB; ` +
        `use the tensorflow (tfjs-node) or cpu backend, or a smaller model`,
    );
  }
}

/** A KV / prefix cache was used with inputs that do not fit it, or after it was disposed. */
export class CacheMismatchError extends ShowoError {
  constructor(message: string) {
    super('CACHE_MISMATCH', message);
  }
}

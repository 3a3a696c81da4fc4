/** The CLI's own errors. Loaded by the actions (and by `main` when one fails), not by the command definitions. */
import type { Command } from 'commander';
import { ShowoError } from '@showo/runtime';

/** A usage mistake detected after parsing (exit 2, with the command's usage). */
export class UsageError extends ShowoError {
  constructor(
    message: string,
    readonly command?: Command,
  ) {
    super('USAGE', message);
  }
}

/** A path given on the command line does not exist or is not what the command needs (exit 1). */
export class CliInputError extends ShowoError {
  constructor(message: string) {
    super('CLI_INPUT', message);
  }
}

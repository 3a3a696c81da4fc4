// Loads no tensor library: the command definitions are light and each action imports its implementation when it
// runs, so `showo --help` and usage errors answer at once.
import 'reflect-metadata';
import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands.js';
import { CliContext, EXIT_FAILURE, EXIT_USAGE, oneLine, type CliIo } from './context.js';

export { EXIT_USAGE, EXIT_FAILURE, commonOptions, modelOptions, samplingOptions, parseIntStrict, parseFloatStrict } from './context.js';
export type { CliIo } from './context.js';

/** Builds the `showo` program around a context (exported for tests). */
export function buildProgram(ctx: CliContext = new CliContext({ stdout: process.stdout, stderr: process.stderr })): Command {
  const program = new Command('showo')
    .description('Show-o in TypeScript: text-to-image, image understanding, inpainting, how-to sequences')
    .showHelpAfterError(true)
    .exitOverride();
  program.configureOutput({ writeErr: (s) => ctx.io.stderr.write(s), writeOut: (s) => ctx.io.stdout.write(s) });
  registerCommands(program, ctx);
  return program;
}

/**
 * Runs the CLI with `argv` (without node and script); resolves to the exit code — 0 ok, 1 failure (bad input,
 * a failed check), 2 usage. Never throws: expected errors become one line on stderr, never a stack trace.
 */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const ctx = new CliContext(io);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      // `showo` alone prints the usage as an error (exit 1 in commander); `showo help` prints it normally.
      if (e.code === 'commander.help') return e.exitCode === 0 ? 0 : EXIT_USAGE;
      return EXIT_USAGE;
    }
    // Any other error came from an action, which has loaded the runtime (and the CLI's errors) already.
    const [{ ShowoError }, { UsageError }] = await Promise.all([import('@showo/runtime'), import('./errors.js')]);
    if (e instanceof UsageError) {
      ctx.err(`showo: ${e.message}`);
      (e.command ?? program).outputHelp({ error: true });
      return EXIT_USAGE;
    }
    if (e instanceof ShowoError) {
      ctx.err(`showo: ${oneLine(e.message)}`);
      return EXIT_FAILURE;
    }
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && err.path) {
      ctx.err(`showo: cannot access ${err.path} (${err.code})`);
      return EXIT_FAILURE;
    }
    ctx.err(`showo: unexpected error: ${(e as Error)?.stack ?? e}`);
    return EXIT_FAILURE;
  }
}

import 'reflect-metadata';
import { Command, CommanderError, Option } from 'commander';
import { ShowoError } from '@showo/runtime';
import { registerCommands } from './commands.js';

/** Exit codes: 0 ok, 1 failure (a check failed, bad input), 2 usage error. */
export const EXIT_USAGE = 2;

/** Builds the `showo` program (exported for tests). */
export function buildProgram(): Command {
  const program = new Command('showo')
    .description('Show-o in TypeScript: text-to-image, image understanding, inpainting, how-to sequences')
    .showHelpAfterError(true)
    .exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  registerCommands(program, commonOptions);
  return program;
}

/** Flags every model-using command accepts. */
export function commonOptions(cmd: Command): Command {
  return cmd
    .option('--model <dir>', 'model folder (default: the embedded Shapes World model)')
    .addOption(new Option('--backend <name>', 'tensor backend').choices(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'))
    .option('--seed <n>', 'random seed', (v) => parseIntStrict('--seed', v), 0);
}

export function parseIntStrict(flag: string, v: string): number {
  if (!/^-?\d+$/.test(v)) throw new UsageError(`${flag} expects an integer, got "${v}"`);
  return Number(v);
}

export function parseFloatStrict(flag: string, v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new UsageError(`${flag} expects a number, got "${v}"`);
  return x;
}

/** A usage mistake detected after parsing (exit 2). */
export class UsageError extends ShowoError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. Never throws. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return EXIT_USAGE;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`showo: ${e.message}\n`);
      program.outputHelp({ error: true });
      return EXIT_USAGE;
    }
    if (e instanceof ShowoError) {
      process.stderr.write(`showo: ${e.message}\n`);
      return 1;
    }
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && err.path) {
      process.stderr.write(`showo: cannot access ${err.path} (${err.code})\n`);
      return 1;
    }
    process.stderr.write(`showo: unexpected error: ${(e as Error)?.stack ?? e}\n`);
    return 1;
  }
}

/**
 * What every command definition needs: output sinks, exit codes and the shared flags. This module and the command
 * definitions (`commands/`) load no tensor library, so `showo --help` starts fast; a command's action loads its
 * implementation (`actions/`) when it runs.
 */
import { InvalidArgumentError as CommanderArgumentError, Option, type Command } from 'commander';
import type { BackendName } from '@showo/runtime';

/** Exit codes: 0 ok, 1 failure (a check failed, bad input), 2 usage error. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** One line for a message that may span several (config errors list their problems line by line). */
export function oneLine(message: string): string {
  return message.replace(/:\s*\n\s*-?\s*/g, ': ').replace(/\s*\n\s*-?\s*/g, '; ');
}

/** Where a command writes. Tests pass their own sinks; the real CLI writes to the process streams. */
export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown; isTTY?: boolean };
}

/**
 * What every command gets: output sinks and the exit status of the run. A command that hits bad input it can
 * skip (a malformed JSONL line, an unreadable image among many) reports it and calls {@link fail}, then carries
 * on; the run then ends with exit code 1.
 */
export class CliContext {
  exitCode = EXIT_OK;
  constructor(readonly io: CliIo) {}

  /** A line on stdout (results). */
  out(line: string): void {
    this.io.stdout.write(line + '\n');
  }

  /** A line on stderr (progress, notes, problems). */
  err(line: string): void {
    this.io.stderr.write(line + '\n');
  }

  /** Reports a problem (`showo: …` on stderr, one line) and marks the run as failed without stopping it. */
  problem(message: string): void {
    this.err(`showo: ${oneLine(message)}`);
    this.fail();
  }

  fail(code = EXIT_FAILURE): void {
    if (this.exitCode === EXIT_OK) this.exitCode = code;
  }
}

/** Option parser for integers (commander reports a failure as a usage error). */
export function parseIntStrict(flag: string, v: string): number {
  if (!/^-?\d+$/.test(v.trim())) throw new CommanderArgumentError(`${flag} expects an integer, got "${v}"`);
  return Number(v);
}

/** Option parser for finite numbers. */
export function parseFloatStrict(flag: string, v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new CommanderArgumentError(`${flag} expects a number, got "${v}"`);
  return x;
}

const positiveInt = (flag: string) => (v: string) => {
  const n = parseIntStrict(flag, v);
  if (n < 1) throw new CommanderArgumentError(`${flag} expects an integer ≥ 1, got ${n}`);
  return n;
};
const nonNegative = (flag: string) => (v: string) => {
  const n = parseFloatStrict(flag, v);
  if (n < 0) throw new CommanderArgumentError(`${flag} expects a number ≥ 0, got ${n}`);
  return n;
};

/**
 * The `--backend` choices: `BACKEND_NAMES` of `@showo/runtime`, spelled out here so that defining the flags does
 * not load the runtime (and TensorFlow.js). The type below fails to compile when the two lists differ.
 * `webgpu` needs two packages the user installs (`webgpu`, Dawn for Node, and `@tensorflow/tfjs-backend-webgpu`);
 * without them it fails with a typed error that names them.
 */
export const BACKEND_CHOICES = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const satisfies readonly BackendName[];
const everyBackendIsAChoice: [Exclude<BackendName, (typeof BACKEND_CHOICES)[number]>] extends [never] ? true : never = true;
void everyBackendIsAChoice;

/** Options of the model flags. */
export interface ModelFlags {
  model?: string;
  backend: BackendName;
  seed: number;
  /** `--workers`: engines for guided image generation (unset: `SHOWO_WORKERS`, else 1). */
  workers?: 1 | 2 | 'auto';
}

/** The `--workers` choices (`resolveWorkerCount` of `@showo/runtime` reads the same from `SHOWO_WORKERS`). */
export const WORKER_CHOICES = ['1', '2', 'auto'] as const;

/** The facade options of the model flags that were given besides the model folder. */
export function modelRequest(flags: ModelFlags): { backend: BackendName; seed: number; workers?: 1 | 2 | 'auto' } {
  return { backend: flags.backend, seed: flags.seed, ...(flags.workers !== undefined ? { workers: flags.workers } : {}) };
}

/** Options of the sampling flags. */
export interface SamplingFlags {
  steps?: number;
  cfg?: number;
  temperature?: number;
  codeTemperature?: number;
  /** Text-to-image only (`rerankOption`). */
  rerank?: number;
}

/** `--model`, `--backend`, `--seed`, `--workers`: every command that loads a model. */
export function modelOptions(cmd: Command): Command {
  return cmd
    .option('--model <dir>', 'model folder (default: $SHOWO_MODEL, else the embedded Shapes World model)')
    .addOption(new Option('--backend <name>', 'tensor backend').choices([...BACKEND_CHOICES]).default('auto'))
    .option('--seed <n>', 'random seed', (v) => parseIntStrict('--seed', v), 0)
    .addOption(
      new Option('--workers <n>', 'engines for image generation with guidance: 2 runs the unconditional half in a worker thread on a second core (same results; pays only when a core is free) (default: $SHOWO_WORKERS, else 1)')
        .choices([...WORKER_CHOICES])
        .argParser((v) => {
          if (!(WORKER_CHOICES as readonly string[]).includes(v)) throw new CommanderArgumentError(`--workers expects 1, 2 or auto, got "${v}"`);
          return v === 'auto' ? 'auto' : (Number(v) as 1 | 2);
        }),
    );
}

/** `--steps`, `--cfg`, `--temperature`: every command that samples (defaults come from the model folder). */
export function samplingOptions(cmd: Command): Command {
  return cmd
    .option('--steps <n>', 'MaskGIT steps (default: the model\'s)', positiveInt('--steps'))
    .option('--cfg <w>', 'classifier-free guidance scale (default: the model\'s)', nonNegative('--cfg'))
    .option('--temperature <t>', 'sampling temperature (default: the model\'s)', nonNegative('--temperature'))
    .option('--code-temperature <t>', 'image generation: temperature of each code\'s distribution, below 1 sharpens it (default: the model\'s, else 1 as officially)', nonNegative('--code-temperature'));
}

/** `--rerank N`: the commands that generate images from text (t2i, eval, demo). */
export function rerankOption(cmd: Command): Command {
  return cmd.option('--rerank <n>', 'text-to-image: generate n candidates per prompt and keep the one the model itself finds the prompt the likeliest caption of (default: the model\'s, else 1)', positiveInt('--rerank'));
}

/** The facade options of a text-to-image request: the sampling flags and `--rerank`. */
export function t2iRequest(o: SamplingFlags & { seed?: number }): ReturnType<typeof samplingRequest> & { rerank?: number } {
  return { ...samplingRequest(o), ...(o.rerank !== undefined ? { rerank: o.rerank } : {}) };
}

/** Model and sampling flags together: the common flags of the model commands. */
export function commonOptions(cmd: Command): Command {
  return samplingOptions(modelOptions(cmd));
}

/** The facade options of the sampling flags that were given. */
export function samplingRequest(o: SamplingFlags & { seed?: number }): { steps?: number; guidanceScale?: number; temperature?: number; codeTemperature?: number; seed?: number } {
  return {
    ...(o.codeTemperature !== undefined ? { codeTemperature: o.codeTemperature } : {}),
    ...(o.steps !== undefined ? { steps: o.steps } : {}),
    ...(o.cfg !== undefined ? { guidanceScale: o.cfg } : {}),
    ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  };
}

/** `positiveInt` and `nonNegative` for commands' own flags. */
export const parsers = { positiveInt, nonNegative };

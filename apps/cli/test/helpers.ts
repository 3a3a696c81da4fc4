/** Runs the CLI in this process with captured output, and shares one tiny random model folder per test file. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '@showo/runtime';
import { writeRandomModelBundle } from '@showo/showo';
import { main } from '../src/main.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Non-empty stderr lines. */
  errLines: string[];
}

/** `showo ...argv`, in process: exit code and everything written to stdout and stderr. */
export async function runCli(argv: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s), isTTY: false } });
  return { code, stdout, stderr, errLines: stderr.split('\n').filter((l) => l.trim() !== '') };
}

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix = 'showo-cli-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

let bundle: Promise<string> | undefined;
/** A tiny random model folder (embedded layout), made once per test file. */
export function tinyBundle(): Promise<string> {
  bundle ??= initBackend(process.env.SHOWO_BACKEND ?? 'wasm').then(() => writeRandomModelBundle(tempDir('showo-cli-bundle-'), { seed: 5 }));
  return bundle;
}

/** Writes JSON Lines (strings are written as they are, e.g. to plant a malformed line). */
export function writeLines(file: string, lines: readonly unknown[]): string {
  fs.writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return file;
}

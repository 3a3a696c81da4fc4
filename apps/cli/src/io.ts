/**
 * Files of the commands: reading inputs with one-line errors, JSON Lines read the same way by every command
 * (each malformed line reported with its number, the others processed, exit code 1 at the end), outputs written
 * atomically.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '@showo/runtime';
import { parseJsonl, type JsonlLineError, type JsonlOptions } from '@showo/shapes-world';
import { readImageSource, type ImageSource } from '@showo/showo';
import type { RgbImage } from '@showo/sampler';
import type { CliContext } from './context.js';
import { CliInputError } from './errors.js';

function reason(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a folder, not a file';
    default:
      return e.message;
  }
}

/** Reads a text file; a missing or unreadable one is a {@link CliInputError} naming it. */
export function readTextFile(file: string, what = 'file'): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliInputError(`cannot read ${what} ${file}: ${reason(e as NodeJS.ErrnoException)}`);
  }
}

/** Checks that a folder exists. */
export function requireDir(dir: string, what = 'folder'): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    throw new CliInputError(`cannot read ${what} ${dir}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : reason(e as NodeJS.ErrnoException)}`);
  }
  if (!st.isDirectory()) throw new CliInputError(`${what} ${dir} is not a folder`);
  return dir;
}

/** Reads an image input file (PNG or JPEG); missing, unreadable or undecodable files are one-line errors. */
export async function readImageFile(file: string, what = 'image'): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (e) {
    throw new CliInputError(`cannot read ${what} ${file}: ${reason(e as NodeJS.ErrnoException)}`);
  }
  return readImageSource(bytes as ImageSource, file);
}

/**
 * Reads a JSON Lines file with one of the shapes-world parsers. Every malformed line is reported on stderr as
 * `showo: FILE:LINE: reason` and marks the run as failed; the valid lines are returned for processing.
 */
export function readJsonlFile<T>(ctx: CliContext, file: string, parse: (text: string, options: JsonlOptions) => T[], what = 'JSONL file'): T[] {
  const text = readTextFile(file, what);
  const errors: JsonlLineError[] = [];
  const items = parse(text, { source: file, errors });
  for (const e of errors) ctx.problem(e.message);
  return items;
}

/** One line of an answers file. */
export interface AnswerLine {
  id: string;
  answer: string;
}

/** Parses an answers file: `{"id", "answer"}` per line (what `showo mmu --questions` writes). */
export function parseAnswersJsonl(text: string, options: JsonlOptions = {}): AnswerLine[] {
  return parseJsonl(
    text,
    (v) => {
      const o = v as Record<string, unknown>;
      if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error('expected an object {"id", "answer"}');
      if (typeof o.id !== 'string') throw new Error(`id: expected a string, got ${JSON.stringify(o.id) ?? 'nothing'}`);
      if (typeof o.answer !== 'string') throw new Error(`answer: expected a string, got ${JSON.stringify(o.answer) ?? 'nothing'}`);
      return { id: o.id, answer: o.answer };
    },
    options,
  );
}

/** The file name of an item's image: its id, with characters that do not belong in a file name replaced. */
export function imageFileName(id: string, suffix = ''): string {
  return `${id.replace(/[^A-Za-z0-9._-]/g, '_')}${suffix}.png`;
}

/** Writes JSON Lines atomically (creating the folder). */
export function writeJsonlFile(file: string, items: readonly unknown[]): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileAtomic(file, items.map((i) => JSON.stringify(i) + '\n').join(''));
}

/** Writes a JSON file atomically (creating the folder). */
export function writeJsonFile(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/** Splits `items` into consecutive batches of at most `size`. */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

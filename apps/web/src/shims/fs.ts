/**
 * `node:fs` for the browser bundle: a read-only file system in memory.
 *
 * The packages read model folders with synchronous `fs` calls (the same code path as in Node). In the browser the
 * app fetches a model folder's files first, {@link mountFiles} them under a path such as `/model`, and every
 * package then reads them from here unchanged. Only the calls the packages make on their read path are provided;
 * writing fails with `EROFS`.
 */

/** A Node-style error with a `code` (`ENOENT`, `EBADF`, `EROFS`, …). */
export class MemoryFsError extends Error {
  constructor(
    readonly code: string,
    readonly syscall: string,
    readonly path?: string,
  ) {
    super(`${code}: ${syscall}${path !== undefined ? ` '${path}'` : ''} (in-memory file system of the browser build)`);
    this.name = 'MemoryFsError';
  }
}

const files = new Map<string, Uint8Array>();
const openFiles = new Map<number, Uint8Array>();
let nextFd = 3;

function normalise(p: string | URL): string {
  const s = typeof p === 'string' ? p : p.pathname;
  const parts: string[] = [];
  for (const part of s.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

function isDirectory(p: string): boolean {
  if (p === '/') return true;
  const prefix = `${p}/`;
  for (const name of files.keys()) if (name.startsWith(prefix)) return true;
  return false;
}

/** Adds files (absolute paths → bytes) to the file system, replacing any file of the same path. */
export function mountFiles(entries: Record<string, Uint8Array> | Iterable<[string, Uint8Array]>): void {
  const list = Symbol.iterator in entries ? (entries as Iterable<[string, Uint8Array]>) : Object.entries(entries);
  for (const [name, bytes] of list) files.set(normalise(name), bytes);
}

/** Removes every file under `prefix` (every file when omitted). */
export function unmountFiles(prefix = '/'): void {
  const root = normalise(prefix);
  for (const name of [...files.keys()]) if (root === '/' || name === root || name.startsWith(`${root}/`)) files.delete(name);
}

/** Paths of the mounted files, sorted. */
export function mountedFiles(): string[] {
  return [...files.keys()].sort();
}

interface Stats {
  size: number;
  isFile(): boolean;
  isDirectory(): boolean;
}

function stats(size: number, file: boolean): Stats {
  return { size, isFile: () => file, isDirectory: () => !file };
}

export function existsSync(p: string | URL): boolean {
  const name = normalise(p);
  return files.has(name) || isDirectory(name);
}

export function statSync(p: string | URL): Stats {
  const name = normalise(p);
  const bytes = files.get(name);
  if (bytes) return stats(bytes.byteLength, true);
  if (isDirectory(name)) return stats(0, false);
  throw new MemoryFsError('ENOENT', 'stat', name);
}

export function readFileSync(p: string | URL, options?: string | { encoding?: string | null }): Uint8Array | string {
  const name = normalise(p);
  const bytes = files.get(name);
  if (!bytes) throw new MemoryFsError(isDirectory(name) ? 'EISDIR' : 'ENOENT', 'open', name);
  const encoding = typeof options === 'string' ? options : options?.encoding;
  if (encoding) {
    if (encoding !== 'utf8' && encoding !== 'utf-8') throw new MemoryFsError('EINVAL', `read as ${encoding}`, name);
    return new TextDecoder().decode(bytes);
  }
  return bytes.slice();
}

export function openSync(p: string | URL, flags: string = 'r'): number {
  const name = normalise(p);
  if (flags !== 'r') throw new MemoryFsError('EROFS', 'open', name);
  const bytes = files.get(name);
  if (!bytes) throw new MemoryFsError('ENOENT', 'open', name);
  const fd = nextFd++;
  openFiles.set(fd, bytes);
  return fd;
}

function openFile(fd: number, syscall: string): Uint8Array {
  const bytes = openFiles.get(fd);
  if (!bytes) throw new MemoryFsError('EBADF', syscall);
  return bytes;
}

export function fstatSync(fd: number): Stats {
  return stats(openFile(fd, 'fstat').byteLength, true);
}

/** Node's positional read: copies up to `length` bytes from `position` into `buffer` at `offset`; returns the count. */
export function readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number {
  const bytes = openFile(fd, 'read');
  const start = position ?? 0;
  const n = Math.max(0, Math.min(length, bytes.byteLength - start, buffer.byteLength - offset));
  buffer.set(bytes.subarray(start, start + n), offset);
  return n;
}

export function closeSync(fd: number): void {
  openFile(fd, 'close');
  openFiles.delete(fd);
}

function readOnly(syscall: string) {
  return (p?: unknown): never => {
    throw new MemoryFsError('EROFS', syscall, typeof p === 'string' ? p : undefined);
  };
}

export const writeFileSync = readOnly('write');
export const writeSync = readOnly('write');
export const mkdirSync = readOnly('mkdir');
export const renameSync = readOnly('rename');
export const rmSync = readOnly('rm');
export const fsyncSync = readOnly('fsync');

export const promises = {
  async readFile(p: string | URL, options?: string | { encoding?: string | null }) {
    return readFileSync(p, options);
  },
};

const fs = {
  existsSync,
  statSync,
  readFileSync,
  openSync,
  fstatSync,
  readSync,
  closeSync,
  writeFileSync,
  writeSync,
  mkdirSync,
  renameSync,
  rmSync,
  fsyncSync,
  promises,
};
export default fs;

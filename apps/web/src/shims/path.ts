/** `node:path` for the browser bundle: the POSIX functions the packages use, over `/`-separated paths. */

export const sep = '/';
export const delimiter = ':';

function normaliseParts(p: string): string[] {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!p.startsWith('/')) out.push('..');
    } else out.push(part);
  }
  return out;
}

export function isAbsolute(p: string): boolean {
  return p.startsWith('/');
}

export function normalize(p: string): string {
  if (p === '') return '.';
  const joined = normaliseParts(p).join('/');
  const out = isAbsolute(p) ? `/${joined}` : joined || '.';
  return p.endsWith('/') && !out.endsWith('/') ? `${out}/` : out;
}

export function join(...parts: string[]): string {
  const nonEmpty = parts.filter((p) => p !== '');
  return nonEmpty.length === 0 ? '.' : normalize(nonEmpty.join('/'));
}

/** Resolves against `/` (the root of the in-memory file system) as the working directory. */
export function resolve(...parts: string[]): string {
  let out = '';
  for (let i = parts.length - 1; i >= 0 && !isAbsolute(out); i--) {
    if (parts[i] !== '') out = out ? `${parts[i]}/${out}` : parts[i]!;
  }
  return `/${normaliseParts(out).join('/')}`;
}

export function dirname(p: string): string {
  const parts = normaliseParts(p);
  parts.pop();
  const d = parts.join('/');
  return isAbsolute(p) ? `/${d}` : d || '.';
}

export function basename(p: string, ext?: string): string {
  const parts = normaliseParts(p);
  const base = parts[parts.length - 1] ?? '';
  return ext && base.endsWith(ext) && base !== ext ? base.slice(0, -ext.length) : base;
}

export function extname(p: string): string {
  const base = basename(p);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot) : '';
}

export function relative(from: string, to: string): string {
  const a = normaliseParts(resolve(from));
  const b = normaliseParts(resolve(to));
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/');
}

const path = { sep, delimiter, isAbsolute, normalize, join, resolve, dirname, basename, extname, relative, posix: {} as object };
path.posix = path;
export default path;

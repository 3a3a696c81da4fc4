import fs from 'node:fs';
import path from 'node:path';
import { readSafetensors, requireReferenceDir, type HostTensor } from '@showo/runtime';

/** The showo-tiny fixture folder, or undefined (tests skip) when the reference is absent outside CI. */
export function tinyDir(): string | undefined {
  const dir = requireReferenceDir();
  return dir === undefined ? undefined : path.join(dir, 'showo-tiny');
}

export function readJson<T = any>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

const cache = new Map<string, Map<string, HostTensor>>();
export function tensors(file: string): Map<string, HostTensor> {
  let t = cache.get(file);
  if (!t) {
    t = readSafetensors(file).tensors;
    cache.set(file, t);
  }
  return t;
}

/** Parses 0/1 row strings into a flat Uint8Array. */
export function allowFromRows(rows: string[]): Uint8Array {
  const l = rows[0].length;
  const out = new Uint8Array(rows.length * l);
  rows.forEach((r, i) => {
    for (let j = 0; j < l; j++) out[i * l + j] = r.charCodeAt(j) === 49 ? 1 : 0;
  });
  return out;
}

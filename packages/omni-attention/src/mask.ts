import { InvalidArgumentError } from '@showo/runtime';
import type { AllowMask } from './types.js';

function checkDims(batch: number, queries: number, keys: number): void {
  for (const [name, v] of [['batch', batch], ['queries', queries], ['keys', keys]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new InvalidArgumentError(`mask ${name} must be a non-negative integer, got ${v}`);
  }
}

/** A mask of the given size, every entry `fill` (default 0 = blocked). */
export function createAllowMask(batch: number, queries: number, keys: number, fill: 0 | 1 = 0): AllowMask {
  checkDims(batch, queries, keys);
  const data = new Uint8Array(batch * queries * keys);
  if (fill) data.fill(1);
  return { batch, queries, keys, data };
}

/** Whether query i of batch row b may attend to key j. */
export function allows(mask: AllowMask, b: number, i: number, j: number): boolean {
  return mask.data[(b * mask.queries + i) * mask.keys + j] === 1;
}

/** The keys row of (b, i) as a view into the mask's data. */
export function maskRow(mask: AllowMask, b: number, i: number): Uint8Array {
  const start = (b * mask.queries + i) * mask.keys;
  return mask.data.subarray(start, start + mask.keys);
}

function checkRange(what: string, start: number, end: number, size: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > size || start > end) {
    throw new InvalidArgumentError(`${what} range [${start}, ${end}) is outside 0..${size}`);
  }
}

/**
 * A sub-mask: query rows `[q0, q1)` and key columns `[k0, k1)` (defaults: all). For a prefix cache, e.g. the rows
 * of the positions being computed now against all keys, or the keys of the cached prefix.
 */
export function sliceMask(mask: AllowMask, range: { queries?: [number, number]; keys?: [number, number] }): AllowMask {
  const [q0, q1] = range.queries ?? [0, mask.queries];
  const [k0, k1] = range.keys ?? [0, mask.keys];
  checkRange('query', q0, q1, mask.queries);
  checkRange('key', k0, k1, mask.keys);
  const out = createAllowMask(mask.batch, q1 - q0, k1 - k0);
  for (let b = 0; b < mask.batch; b++) {
    for (let i = q0; i < q1; i++) {
      const src = (b * mask.queries + i) * mask.keys;
      out.data.set(mask.data.subarray(src + k0, src + k1), (b * out.queries + (i - q0)) * out.keys);
    }
  }
  return out;
}

/** Query rows `[start, end)` against all keys. */
export function sliceQueries(mask: AllowMask, start: number, end: number): AllowMask {
  return sliceMask(mask, { queries: [start, end] });
}

/** Key columns `[start, end)` for all queries. */
export function sliceKeys(mask: AllowMask, start: number, end: number): AllowMask {
  return sliceMask(mask, { keys: [start, end] });
}

/** The batch rows at `indices`, in that order. */
export function selectBatch(mask: AllowMask, indices: readonly number[]): AllowMask {
  const size = mask.queries * mask.keys;
  const out = createAllowMask(indices.length, mask.queries, mask.keys);
  indices.forEach((b, k) => {
    if (!Number.isInteger(b) || b < 0 || b >= mask.batch) throw new InvalidArgumentError(`batch index ${b} is outside 0..${mask.batch - 1}`);
    out.data.set(mask.data.subarray(b * size, (b + 1) * size), k * size);
  });
  return out;
}

/** Masks of equal query/key sizes stacked along the batch (e.g. conditional rows, then unconditional rows for CFG). */
export function concatBatch(masks: readonly AllowMask[]): AllowMask {
  if (masks.length === 0) throw new InvalidArgumentError('concatBatch needs at least one mask');
  const { queries, keys } = masks[0]!;
  for (const m of masks) {
    if (m.queries !== queries || m.keys !== keys) throw new InvalidArgumentError(`cannot stack masks of ${m.queries}×${m.keys} and ${queries}×${keys}`);
  }
  const out = createAllowMask(masks.reduce((n, m) => n + m.batch, 0), queries, keys);
  let offset = 0;
  for (const m of masks) {
    out.data.set(m.data, offset);
    offset += m.data.length;
  }
  return out;
}

/** Where two masks first differ, or undefined when they are equal (a shape difference is reported as such). */
export function firstMismatch(
  actual: AllowMask,
  expected: AllowMask,
): { b: number; i: number; j: number; actual: number; expected: number } | { shape: [number[], number[]] } | undefined {
  if (actual.batch !== expected.batch || actual.queries !== expected.queries || actual.keys !== expected.keys) {
    return { shape: [[actual.batch, actual.queries, actual.keys], [expected.batch, expected.queries, expected.keys]] };
  }
  for (let n = 0; n < actual.data.length; n++) {
    if (actual.data[n] !== expected.data[n]) {
      const j = n % actual.keys;
      const i = Math.floor(n / actual.keys) % actual.queries;
      const b = Math.floor(n / (actual.keys * actual.queries));
      return { b, i, j, actual: actual.data[n]!, expected: expected.data[n]! };
    }
  }
  return undefined;
}

/** Whether two masks are identical. */
export function masksEqual(a: AllowMask, b: AllowMask): boolean {
  return firstMismatch(a, b) === undefined;
}

/**
 * Reads the fixture format: one '0'/'1' string per (b, i) row, row `b * L + i`. `shape` is `[B, 1, Lq, Lk]` (the
 * official 4-D shape) or `[B, Lq, Lk]`.
 */
export function fromAllowRows(rows: readonly string[], shape: readonly number[]): AllowMask {
  const dims = shape.length === 4 ? [shape[0]!, shape[2]!, shape[3]!] : shape.length === 3 ? [...shape] : undefined;
  if (!dims || (shape.length === 4 && shape[1] !== 1)) throw new InvalidArgumentError(`mask shape ${JSON.stringify(shape)} is not [B,1,Lq,Lk] or [B,Lq,Lk]`);
  const [batch, queries, keys] = dims as [number, number, number];
  const mask = createAllowMask(batch, queries, keys);
  if (rows.length !== batch * queries) throw new InvalidArgumentError(`${rows.length} mask rows for shape ${JSON.stringify(shape)}`);
  rows.forEach((row, r) => {
    if (typeof row !== 'string' || row.length !== keys || !/^[01]*$/.test(row)) throw new InvalidArgumentError(`mask row ${r} is not a string of ${keys} '0'/'1'`);
    for (let j = 0; j < keys; j++) mask.data[r * keys + j] = row.charCodeAt(j) - 48;
  });
  return mask;
}

/** The fixture format of a mask: one '0'/'1' string per (b, i). */
export function toAllowRows(mask: AllowMask): string[] {
  const rows: string[] = [];
  for (let r = 0; r < mask.batch * mask.queries; r++) {
    let s = '';
    for (let j = 0; j < mask.keys; j++) s += mask.data[r * mask.keys + j] ? '1' : '0';
    rows.push(s);
  }
  return rows;
}

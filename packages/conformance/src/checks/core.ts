/**
 * Conformance of `@showo/showo-core` against the official forward pass (showo-tiny fixtures):
 * logits of every `forward.json` case (and the `train_mixed` batch), the per-layer debug intermediates of the
 * `mmu` case (to localise an error), and the KV / prefix caches checked against the same official logits.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { SafetensorsReader } from '@showo/runtime';
import { ShowoModel, type AllowMaskLike } from '@showo/showo-core';
import type { CheckResult } from '../types.js';

/** Max abs difference allowed on logits and intermediates (README: "about 1e-4"). */
export const FORWARD_TOLERANCE = 1e-4;

interface ForwardCase {
  name: string;
  input_ids: number[][];
  mask: string;
  logits: string;
  shape: number[];
}

/** The showo-tiny folder, given either it or the reference folder that contains it. */
function tinyDir(dir: string): string {
  const nested = path.join(dir, 'showo-tiny');
  return fs.existsSync(nested) ? nested : dir;
}

/** `allow_rows` (B·L strings of '0'/'1') → a host allow-mask [B, L, L]. */
export function parseAllowRows(rows: unknown, batch: number, length: number): AllowMaskLike {
  if (!Array.isArray(rows) || rows.length !== batch * length) throw new Error(`allow_rows: expected ${batch * length} rows, got ${Array.isArray(rows) ? rows.length : typeof rows}`);
  const data = new Uint8Array(batch * length * length);
  rows.forEach((row, r) => {
    if (typeof row !== 'string' || row.length !== length || !/^[01]*$/.test(row)) throw new Error(`allow_rows[${r}] is not a string of ${length} '0'/'1'`);
    for (let j = 0; j < length; j++) data[r * length + j] = row.charCodeAt(j) - 48;
  });
  return { batch, queries: length, keys: length, data };
}

/** Rows `[q0, q1)` of every batch row, keys `[0, k1)`: the mask rows a cached call needs. */
function sliceMask(m: AllowMaskLike, q0: number, q1: number, k1: number): AllowMaskLike {
  const out = new Uint8Array(m.batch * (q1 - q0) * k1);
  for (let b = 0; b < m.batch; b++) {
    for (let i = q0; i < q1; i++) out.set(m.data.subarray((b * m.queries + i) * m.keys, (b * m.queries + i) * m.keys + k1), (b * (q1 - q0) + i - q0) * k1);
  }
  return { batch: m.batch, queries: q1 - q0, keys: k1, data: out };
}

function idsTensor(ids: unknown): tf.Tensor2D {
  if (!Array.isArray(ids) || !ids.length || !ids.every((r) => Array.isArray(r) && r.length === (ids[0] as unknown[]).length && r.every(Number.isInteger))) {
    throw new Error('input_ids is not a rectangular integer matrix');
  }
  return tf.tensor2d(ids as number[][], undefined, 'int32');
}

/** Max |a − b| over a host tensor, or an explanation when shapes differ. */
function maxAbsDiff(ours: Float32Array, oursShape: readonly number[], ref: { shape: number[]; data: ArrayLike<number> }): number {
  if (oursShape.length !== ref.shape.length || oursShape.some((d, i) => d !== ref.shape[i])) {
    throw new Error(`shape [${oursShape.join(',')}] ≠ reference [${ref.shape.join(',')}]`);
  }
  let m = 0;
  for (let i = 0; i < ours.length; i++) {
    const d = Math.abs(ours[i] - ref.data[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

function result(name: string, diff: number, extra = ''): CheckResult {
  return { name, ok: diff <= FORWARD_TOLERANCE, detail: `max abs diff ${diff.toExponential(2)} (tolerance ${FORWARD_TOLERANCE})${extra}` };
}

function failure(name: string, e: unknown): CheckResult {
  return { name, ok: false, detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
}

/** Reads `file:tensor` references of the fixture JSON. */
function tensorRef(ref: string, prefix: string): string {
  if (typeof ref !== 'string' || !ref.startsWith(prefix + ':')) throw new Error(`expected a "${prefix}:<name>" reference, got ${JSON.stringify(ref)}`);
  return ref.slice(prefix.length + 1);
}

/**
 * Runs every forward check. `dir` is the reference folder (or its `showo-tiny` subfolder). A missing or malformed
 * fixture is reported as a failed check; nothing throws. Uses the active tfjs backend and frees every tensor.
 */
export async function checkForward(dir: string): Promise<CheckResult[]> {
  const tiny = tinyDir(dir);
  const results: CheckResult[] = [];
  let model: ShowoModel | undefined;
  let reader: SafetensorsReader | undefined;
  try {
    let forwardJson: { cases: ForwardCase[]; debug_intermediates?: { case: string; names: Record<string, number[]> }; train_mixed?: Record<string, unknown> };
    let masks: { cases: Record<string, { allow_rows: string[]; shape: number[] }> };
    try {
      model = await ShowoModel.load(tiny, { weightsFile: 'weights.safetensors' });
      forwardJson = JSON.parse(fs.readFileSync(path.join(tiny, 'forward.json'), 'utf8'));
      masks = JSON.parse(fs.readFileSync(path.join(tiny, 'masks.json'), 'utf8'));
      reader = SafetensorsReader.open(path.join(tiny, 'forward.safetensors'));
      if (!Array.isArray(forwardJson.cases) || typeof masks.cases !== 'object') throw new Error('forward.json or masks.json lacks "cases"');
    } catch (e) {
      return [failure('forward/fixtures', e)];
    }
    const m = model;
    const r = reader;
    const maskOf = (ref: string, B: number, L: number) => {
      const entry = masks.cases[tensorRef(ref, 'masks.json')];
      if (!entry) throw new Error(`no mask case ${ref}`);
      return parseAllowRows(entry.allow_rows, B, L);
    };

    // 1. Logits of every case.
    const cases: Array<{ name: string; ids: unknown; mask: () => AllowMaskLike; logits: string }> = forwardJson.cases.map((c) => ({
      name: c.name,
      ids: c.input_ids,
      mask: () => maskOf(c.mask, c.input_ids.length, c.input_ids[0]?.length ?? 0),
      logits: c.logits,
    }));
    const tm = forwardJson.train_mixed;
    if (tm) {
      cases.push({
        name: 'train_mixed',
        ids: tm.input_ids,
        mask: () => parseAllowRows(tm.attention_mask_allow_rows, (tm.input_ids as unknown[]).length, ((tm.input_ids as unknown[][])[0] ?? []).length),
        logits: tm.logits as string,
      });
    }
    for (const c of cases) {
      try {
        const ref = r.read(tensorRef(c.logits, 'forward.safetensors'));
        const ids = idsTensor(c.ids);
        const logits = m.forward(ids, c.mask());
        const diff = maxAbsDiff(logits.dataSync() as Float32Array, logits.shape, ref);
        tf.dispose([ids, logits]);
        results.push(result(`forward/${c.name}`, diff));
      } catch (e) {
        results.push(failure(`forward/${c.name}`, e));
      }
    }

    // 2. Debug intermediates of the mmu case (where a logits error starts).
    const dbg = forwardJson.debug_intermediates;
    const dbgCase = dbg && forwardJson.cases.find((c) => c.name === dbg.case);
    if (!dbg || !dbgCase) {
      results.push({ name: 'forward/debug', ok: false, detail: 'forward.json has no usable debug_intermediates' });
    } else {
      try {
        const ours = new Map<string, { data: Float32Array; shape: number[] }>();
        const ids = idsTensor(dbgCase.input_ids);
        const logits = m.forward(ids, maskOf(dbgCase.mask, dbgCase.input_ids.length, dbgCase.input_ids[0].length), {
          onIntermediate: (name, t) => ours.set(name, { data: t.dataSync() as Float32Array, shape: t.shape }),
        });
        tf.dispose([ids, logits]);
        for (const name of Object.keys(dbg.names)) {
          const check = `forward/${dbg.case}.debug.${name}`;
          try {
            const mine = ours.get(name);
            if (!mine) throw new Error('the model reported no such intermediate');
            results.push(result(check, maxAbsDiff(mine.data, mine.shape, r.read(`${dbg.case}.debug.${name}`))));
          } catch (e) {
            results.push(failure(check, e));
          }
        }
      } catch (e) {
        results.push(failure(`forward/${dbg.case}.debug`, e));
      }
    }

    // 3. Caches against the official logits: KV cache (mmu: prefix then token-by-token chunks) and prefix cache
    //    (t2i with CFG: text prefix once, image block against it).
    const byName = new Map(forwardJson.cases.map((c) => [c.name, c]));
    const kvCase = byName.get('mmu');
    if (kvCase) {
      try {
        const B = kvCase.input_ids.length;
        const L = kvCase.input_ids[0].length;
        const mask = maskOf(kvCase.mask, B, L);
        const ref = r.read(tensorRef(kvCase.logits, 'forward.safetensors'));
        const V = ref.shape[2];
        const cache = m.emptyCache(B);
        let worst = 0;
        // The image prefix up to <|eoi|> is bidirectional, so it must be one chunk; after it the mask is causal.
        // Uneven chunks then exercise both multi-token appends and single-token decoding.
        const eoi = kvCase.input_ids[0].indexOf(202); // <|eoi|> of the fixture layout
        if (eoi <= 0 || eoi + 7 > L) throw new Error('no <|eoi|> early enough in the mmu case');
        const cuts = [0, eoi + 1, eoi + 2, eoi + 6, L - 1, L];
        for (let s = 0; s + 1 < cuts.length; s++) {
          const [a, b] = [cuts[s], cuts[s + 1]];
          const ids = tf.tensor2d(kvCase.input_ids.map((row) => row.slice(a, b)), [B, b - a], 'int32');
          const logits = m.forwardWithCache(ids, sliceMask(mask, a, b, b), cache, { append: true });
          const mine = logits.dataSync();
          for (let bi = 0; bi < B; bi++)
            for (let i = a; i < b; i++)
              for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(mine[(bi * (b - a) + i - a) * V + v] - ref.data[(bi * L + i) * V + v]));
          tf.dispose([ids, logits]);
        }
        cache.dispose();
        results.push(result('forward/kv-cache(mmu)', worst, `; chunks ${cuts.join('|')}`));
      } catch (e) {
        results.push(failure('forward/kv-cache(mmu)', e));
      }
    }
    const pcCase = byName.get('t2i_cfg_rm_pad');
    if (pcCase) {
      try {
        const B = pcCase.input_ids.length;
        const L = pcCase.input_ids[0].length;
        const soi = 201; // <|soi|> of the fixture layout (config.json token_ids)
        const P = pcCase.input_ids[0].indexOf(soi);
        if (P <= 0) throw new Error('no <|soi|> in the t2i case');
        const mask = maskOf(pcCase.mask, B, L);
        const ref = r.read(tensorRef(pcCase.logits, 'forward.safetensors'));
        const V = ref.shape[2];
        const prefixIds = tf.tensor2d(pcCase.input_ids.map((row) => row.slice(0, P)), [B, P], 'int32');
        const blockIds = tf.tensor2d(pcCase.input_ids.map((row) => row.slice(P)), [B, L - P], 'int32');
        const cache = m.prefill(prefixIds, sliceMask(mask, 0, P, P));
        let worst = 0;
        for (let rep = 0; rep < 2; rep++) {
          // twice: the cache must be unchanged by a non-appending call
          const logits = m.forwardWithCache(blockIds, sliceMask(mask, P, L, L), cache, { append: false });
          const mine = logits.dataSync();
          for (let bi = 0; bi < B; bi++)
            for (let i = P; i < L; i++) for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(mine[(bi * (L - P) + i - P) * V + v] - ref.data[(bi * L + i) * V + v]));
          logits.dispose();
        }
        const unchanged = cache.length === P;
        cache.dispose();
        tf.dispose([prefixIds, blockIds]);
        const res = result('forward/prefix-cache(t2i_cfg_rm_pad)', worst, `; prefix ${P}, block ${L - P}, ${B} rows`);
        results.push(unchanged ? res : { ...res, ok: false, detail: `${res.detail}; cache length changed to ${cache.length}` });
      } catch (e) {
        results.push(failure('forward/prefix-cache(t2i_cfg_rm_pad)', e));
      }
    }
  } finally {
    reader?.close();
    model?.dispose();
  }
  return results;
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, requireReferenceDir } from '@showo/runtime';
import type { AllowMaskLike, ShowoConfig } from '@showo/showo-core';

/** The showo-tiny fixture folder, or undefined (tests skip) when the reference is absent outside CI. */
export function tinyDir(): string | undefined {
  const dir = requireReferenceDir();
  return dir === undefined ? undefined : path.join(dir, 'showo-tiny');
}

/** Each test file runs in its own process: pick a backend once per file (default wasm, the project default). */
export async function useBackend(name: 'wasm' | 'cpu' = 'wasm'): Promise<void> {
  await initBackend(name);
}

/** A tiny config (hd 8, rotary 4, 2 layers) for fast tests without fixtures. */
export const TINY: ShowoConfig = {
  vocab_size: 47,
  llm_vocab_size: 20,
  num_new_special_tokens: 10,
  codebook_size: 16,
  num_vq_tokens: 8,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  partial_rotary_factor: 0.5,
  qk_layernorm: true,
  layer_norm_eps: 1e-5,
  rope_theta: 10000,
  max_position_embeddings: 64,
};

export function readJson<T = any>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `showo-core-${tag}-`));
}

/** `allow_rows` strings → a host allow-mask. */
export function allowFromRows(rows: string[], batch: number): AllowMaskLike {
  const l = rows[0].length;
  const data = new Uint8Array(rows.length * l);
  rows.forEach((r, i) => {
    for (let j = 0; j < l; j++) data[i * l + j] = r.charCodeAt(j) === 49 ? 1 : 0;
  });
  return { batch, queries: rows.length / batch, keys: l, data };
}

/** Builds a mask [B, L, L] from a rule (q, k, b) → may attend. */
export function maskFrom(batch: number, length: number, allow: (q: number, k: number, b: number) => boolean): AllowMaskLike {
  const data = new Uint8Array(batch * length * length);
  for (let b = 0; b < batch; b++) for (let q = 0; q < length; q++) for (let k = 0; k < length; k++) data[(b * length + q) * length + k] = allow(q, k, b) ? 1 : 0;
  return { batch, queries: length, keys: length, data };
}

/** Rows [q0, q1) of every batch row over keys [0, k1). */
export function rows(m: AllowMaskLike, q0: number, q1: number, k1: number): AllowMaskLike {
  const out = new Uint8Array(m.batch * (q1 - q0) * k1);
  for (let b = 0; b < m.batch; b++)
    for (let i = q0; i < q1; i++) out.set(m.data.subarray((b * m.queries + i) * m.keys, (b * m.queries + i) * m.keys + k1), (b * (q1 - q0) + i - q0) * k1);
  return { batch: m.batch, queries: q1 - q0, keys: k1, data: out };
}

/** Random ids in [0, vocab) as an int32 tensor [B, L] (deterministic). */
export function randomIds(batch: number, length: number, vocab: number, seed = 1): tf.Tensor2D {
  let s = seed;
  const data = new Int32Array(batch * length);
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = (s >>> 8) % vocab;
  }
  return tf.tensor2d(data, [batch, length], 'int32');
}

/** Max |a − b| of two tensors of the same shape. */
export function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`shapes differ: [${a.shape}] vs [${b.shape}]`);
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

/**
 * Conformance of `@showo/trainer` against the showo-tiny fixtures:
 * - `train_masking.json`: `mask_or_random_replace_tokens` with the recorded uniforms (mask probabilities, counts,
 *   masked ids and labels, exactly);
 * - `forward.json` `train_mixed`: the official losses from the recorded logits, the mixed batch rebuilt from its
 *   inputs (ids, labels, attention mask, exactly), and the losses from our model's logits on the fixture weights.
 * A missing or malformed fixture is a failed check, never a skipped one.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { RecordedUniforms, SafetensorsReader } from '@showo/runtime';
import { TokenLayout, UniversalPrompting } from '@showo/prompting';
import { ShowoModel } from '@showo/showo-core';
import { buildShowoBatch, maskImageTokens, showoLosses, type ShowoBatch } from '@showo/trainer';
import type { CheckResult } from '../types.js';

/** Tolerance on losses (README: "about 1e-5"). */
export const LOSS_TOLERANCE = 1e-5;

function tinyDir(dir: string): string {
  const nested = path.join(dir, 'showo-tiny');
  return fs.existsSync(nested) ? nested : dir;
}

function readJson(file: string): any {
  if (!fs.existsSync(file)) throw new Error(`${path.basename(file)} not found in ${path.dirname(file)}`);
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function intMatrix(x: unknown, what: string): number[][] {
  if (!Array.isArray(x) || !x.length || !x.every((r) => Array.isArray(r) && r.length === (x[0] as unknown[]).length && r.every(Number.isInteger))) {
    throw new Error(`${what} is not a rectangular integer matrix`);
  }
  return x as number[][];
}

function numberList(x: unknown, what: string): number[] {
  if (!Array.isArray(x) || !x.every((v) => typeof v === 'number' && Number.isFinite(v))) throw new Error(`${what} is not a list of numbers`);
  return x as number[];
}

function firstDiff(ours: ArrayLike<number>, ref: ArrayLike<number>, cols: number): string | undefined {
  if (ours.length !== ref.length) return `${ours.length} values, reference ${ref.length}`;
  for (let i = 0; i < ref.length; i++) if (ours[i] !== ref[i]) return `[${Math.floor(i / cols)}][${i % cols}] = ${ours[i]}, reference ${ref[i]}`;
  return undefined;
}

function fail(name: string, e: unknown): CheckResult {
  return { name, ok: false, detail: e instanceof Error ? e.message : String(e) };
}

/** `mask_or_random_replace_tokens` against `train_masking.json`, with its recorded uniforms. */
export async function checkTrainMasking(dir: string): Promise<CheckResult[]> {
  const prefix = 'trainer/masking';
  let fx: any;
  let tokens: number[][];
  let uT: number[];
  let uP: number[][];
  try {
    fx = readJson(path.join(tinyDir(dir), 'train_masking.json'));
    tokens = intMatrix(fx.image_tokens, 'image_tokens');
    uT = numberList(fx.uniforms_timesteps, 'uniforms_timesteps');
    uP = (fx.uniforms_randperm as unknown[]).map((r, i) => numberList(r, `uniforms_randperm[${i}]`));
    if (!Number.isInteger(fx.mask_id)) throw new Error('mask_id is not an integer');
    if (uT.length !== tokens.length || uP.length !== tokens.length) throw new Error('uniform counts do not match the batch');
    intMatrix(fx.input_ids, 'input_ids');
    intMatrix(fx.labels, 'labels');
  } catch (e) {
    return [fail(`${prefix}/fixture`, e)];
  }
  const B = tokens.length;
  const N = tokens[0].length;
  const cfg = fx.config ?? {};
  // README: parse each uniform as a double and round it to float32 (maskImageTokens does the rounding).
  const source = new RecordedUniforms([...uT, ...uP.flat()]);
  let r;
  try {
    r = maskImageTokens(tokens.flat(), B, N, source, {
      maskId: fx.mask_id,
      minMaskingRate: cfg.min_masking_rate ?? 0,
      contiguousRegionProb: cfg.mask_contiguous_region_prob ?? null,
    });
  } catch (e) {
    return [fail(`${prefix}/run`, e)];
  }
  const out: CheckResult[] = [];
  const probs = numberList(fx.mask_prob, 'mask_prob');
  const probErr = Math.max(...probs.map((p, b) => Math.abs(p - r.maskProb[b])));
  out.push({ name: `${prefix}/mask_prob`, ok: probErr <= 1e-6, detail: `max |Δ| ${probErr.toExponential(2)} (ours ${[...r.maskProb].join(', ')})` });
  const nums = numberList(fx.num_token_masked, 'num_token_masked');
  const numDiff = firstDiff(r.numMasked, nums, B);
  out.push({ name: `${prefix}/num_token_masked`, ok: !numDiff, detail: numDiff ?? `${[...r.numMasked].join(', ')}` });
  for (const [key, ours] of [['input_ids', r.inputIds], ['labels', r.labels]] as const) {
    const d = firstDiff(ours, (fx[key] as number[][]).flat(), N);
    out.push({ name: `${prefix}/${key}`, ok: !d, detail: d ?? `${B}×${N} exact` });
  }
  out.push({
    name: `${prefix}/uniform_draws`,
    ok: source.consumed === uT.length + uP.flat().length,
    detail: `${source.consumed} of ${uT.length + uP.flat().length} recorded uniforms drawn`,
  });
  return out;
}

interface TrainMixed {
  input_ids: number[][];
  labels: number[][];
  attention_mask_allow_rows: string[];
  batch_size_t2i: number;
  batch_size_lm: number;
  batch_size_mmu: number;
  max_seq_length: number;
  loss_t2i: number;
  loss_lm: number;
  loss_mmu: number;
  logits: string;
  shape: number[];
  t2i_texts: number[][];
  lm_texts: number[][];
  mmu_texts: number[][];
  mmu_image_ids: number[][];
  cond_dropout_uniforms: number[];
  cond_dropout_prob: number;
}

function readTrainMixed(dir: string): TrainMixed {
  const fx = readJson(path.join(dir, 'forward.json'));
  const t = fx.train_mixed as TrainMixed | undefined;
  if (!t || typeof t !== 'object') throw new Error('forward.json has no train_mixed case');
  intMatrix(t.input_ids, 'train_mixed.input_ids');
  intMatrix(t.labels, 'train_mixed.labels');
  for (const k of ['batch_size_t2i', 'batch_size_lm', 'batch_size_mmu', 'max_seq_length'] as const) {
    if (!Number.isInteger(t[k])) throw new Error(`train_mixed.${k} is not an integer`);
  }
  for (const k of ['loss_t2i', 'loss_lm', 'loss_mmu'] as const) if (typeof t[k] !== 'number') throw new Error(`train_mixed.${k} is not a number`);
  return t;
}

function readLogits(dir: string, ref: string, shape: number[]): tf.Tensor3D {
  const [file, name] = ref.split(':');
  if (!file || !name) throw new Error(`bad logits reference "${ref}"`);
  const reader = SafetensorsReader.open(path.join(dir, file));
  try {
    const t = reader.read(name);
    if (t.shape.join(',') !== shape.join(',')) throw new Error(`${name} is [${t.shape.join(',')}], expected [${shape.join(',')}]`);
    return tf.tensor3d(t.data as Float32Array, shape as [number, number, number]);
  } finally {
    reader.close();
  }
}

async function lossesOf(logits: tf.Tensor3D, t: TrainMixed): Promise<{ t2i: number; lm: number; mmu: number }> {
  const l = showoLosses(logits, t.labels, { batchT2i: t.batch_size_t2i, batchLm: t.batch_size_lm, batchMmu: t.batch_size_mmu, maxSeqLength: t.max_seq_length });
  try {
    const [t2i, lm, mmu] = await Promise.all([l.t2i.data(), l.lm.data(), l.mmu.data()]);
    return { t2i: t2i[0], lm: lm[0], mmu: mmu[0] };
  } finally {
    tf.dispose([l.t2i, l.lm, l.mmu, l.total]);
  }
}

function compareLosses(name: string, ours: { t2i: number; lm: number; mmu: number }, t: TrainMixed): CheckResult {
  const err = Math.max(Math.abs(ours.t2i - t.loss_t2i), Math.abs(ours.lm - t.loss_lm), Math.abs(ours.mmu - t.loss_mmu));
  return {
    name,
    ok: err <= LOSS_TOLERANCE,
    detail: `t2i ${ours.t2i.toFixed(6)} (ref ${t.loss_t2i.toFixed(6)}), lm ${ours.lm.toFixed(6)} (ref ${t.loss_lm.toFixed(6)}), mmu ${ours.mmu.toFixed(6)} (ref ${t.loss_mmu.toFixed(6)}); max |Δ| ${err.toExponential(2)}`,
  };
}

/** Rebuilds the train_mixed batch with our builders from its recorded inputs. */
function rebuildBatch(dir: string, t: TrainMixed): ShowoBatch {
  const cfg = readJson(path.join(dir, 'config.json'));
  const masking = readJson(path.join(dir, 'train_masking.json'));
  const showo = cfg.showo;
  const layout = TokenLayout.fromShowoConfig(showo, { bosId: cfg.token_ids['bos(<|sot|>)'], eosId: cfg.token_ids['eos(<|eot|>)'] });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: showo.max_seq_length, numVqTokens: showo.num_vq_tokens });
  // Official order of the random draws: masking timesteps, permutation uniforms, then the dropout uniforms.
  const uniforms = new RecordedUniforms([
    ...numberList(masking.uniforms_timesteps, 'uniforms_timesteps'),
    ...(masking.uniforms_randperm as number[][]).flat(),
    ...numberList(t.cond_dropout_uniforms, 'cond_dropout_uniforms'),
  ]);
  return buildShowoBatch(
    prompting,
    {
      t2i: { texts: t.t2i_texts, imageIds: intMatrix(masking.image_tokens, 'image_tokens') },
      lm: { texts: t.lm_texts },
      mmu: { texts: t.mmu_texts, imageIds: t.mmu_image_ids },
    },
    uniforms,
    {
      condDropoutProb: t.cond_dropout_prob,
      masking: { minMaskingRate: masking.config?.min_masking_rate ?? 0, contiguousRegionProb: masking.config?.mask_contiguous_region_prob ?? null },
    },
  );
}

/**
 * The official losses of the `train_mixed` batch: from the recorded logits (tests the loss function alone), the
 * batch rebuilt from its inputs (masking → prompting → masks), and from our model's forward pass on the fixture
 * weights (the whole training forward).
 */
export async function checkTrainLosses(dir: string): Promise<CheckResult[]> {
  const prefix = 'trainer/train_mixed';
  const tiny = tinyDir(dir);
  let t: TrainMixed;
  try {
    t = readTrainMixed(tiny);
  } catch (e) {
    return [fail(`${prefix}/fixture`, e)];
  }
  const B = t.input_ids.length;
  const L = t.input_ids[0].length;
  const out: CheckResult[] = [];

  try {
    const shape = numberList(t.shape, 'train_mixed.shape');
    if (shape.length !== 3 || shape[0] !== B || shape[1] !== L) throw new Error(`train_mixed.shape [${shape.join(',')}] does not match the ids ${B}×${L}`);
    const logits = readLogits(tiny, t.logits, shape);
    try {
      out.push(compareLosses(`${prefix}/losses_from_recorded_logits`, await lossesOf(logits, t), t));
    } finally {
      logits.dispose();
    }
  } catch (e) {
    out.push(fail(`${prefix}/losses_from_recorded_logits`, e));
  }

  try {
    const batch = rebuildBatch(tiny, t);
    const idsDiff = firstDiff(batch.inputIds, t.input_ids.flat(), L);
    const labDiff = firstDiff(batch.labels, t.labels.flat(), L);
    const rows = t.attention_mask_allow_rows;
    if (!Array.isArray(rows) || rows.length !== B * L) throw new Error('attention_mask_allow_rows has the wrong number of rows');
    let maskDiff: string | undefined;
    for (let r = 0; r < B * L && !maskDiff; r++) {
      for (let j = 0; j < L; j++) {
        if (batch.allow.data[r * L + j] !== rows[r].charCodeAt(j) - 48) {
          maskDiff = `allow[${Math.floor(r / L)}][${r % L}][${j}] = ${batch.allow.data[r * L + j]}, reference ${rows[r][j]}`;
          break;
        }
      }
    }
    const layoutOk = batch.batchT2i === t.batch_size_t2i && batch.batchLm === t.batch_size_lm && batch.batchMmu === t.batch_size_mmu;
    out.push({ name: `${prefix}/batch_input_ids`, ok: !idsDiff, detail: idsDiff ?? `${B}×${L} exact` });
    out.push({ name: `${prefix}/batch_labels`, ok: !labDiff, detail: labDiff ?? `${B}×${L} exact` });
    out.push({ name: `${prefix}/batch_attention_mask`, ok: !maskDiff && layoutOk, detail: maskDiff ?? (layoutOk ? `${B}×${L}×${L} exact` : 'batch sizes differ') });
  } catch (e) {
    out.push(fail(`${prefix}/batch_rebuild`, e));
  }

  let model: ShowoModel | undefined;
  try {
    model = await ShowoModel.load(tiny);
    const m = model;
    const ids = tf.tensor2d(t.input_ids, [B, L], 'int32');
    const allow = new Uint8Array(B * L * L);
    t.attention_mask_allow_rows.forEach((row, r) => {
      for (let j = 0; j < L; j++) allow[r * L + j] = row.charCodeAt(j) - 48;
    });
    const logits = m.forward(ids, { batch: B, queries: L, keys: L, data: allow });
    ids.dispose();
    try {
      out.push(compareLosses(`${prefix}/losses_from_model`, await lossesOf(logits, t), t));
    } finally {
      logits.dispose();
    }
  } catch (e) {
    out.push(fail(`${prefix}/losses_from_model`, e));
  } finally {
    model?.dispose();
  }
  return out;
}

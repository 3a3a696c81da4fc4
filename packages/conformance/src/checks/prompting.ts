/**
 * Conformance of `@showo/prompting` and `@showo/omni-attention` against the showo-tiny fixtures:
 * every `prompts.json` case (sequence ids and labels from `UniversalPrompting.__call__`, plus the token layout of
 * `config.json`), and every `masks.json` case (the official mask functions, and the general omni-attention
 * builder where it applies).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  buildOmniMask,
  createAttentionMaskForMmu,
  createAttentionMaskLvg,
  createAttentionMaskPredictNext,
  firstMismatch,
  fromAllowRows,
  segmentsFromIds,
  type AllowMask,
  type MaskTokenIds,
  type PadPolicy,
} from '@showo/omni-attention';
import { TokenLayout, UniversalPrompting, type PromptBatch } from '@showo/prompting';
import type { CheckResult } from '../types.js';

/** The showo-tiny folder, given either it or the reference folder that contains it. */
function tinyDir(dir: string): string {
  const nested = path.join(dir, 'showo-tiny');
  return fs.existsSync(nested) ? nested : dir;
}

function readJson(file: string): any {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

interface TinyConfig {
  layout: TokenLayout;
  prompting: UniversalPrompting;
  tokenIds: Record<string, unknown>;
}

/** Layout and prompt builders configured from showo-tiny's `config.json`. */
function loadTiny(dir: string): TinyConfig {
  const cfg = readJson(path.join(tinyDir(dir), 'config.json'));
  const showo = cfg.showo;
  const layout = TokenLayout.fromShowoConfig(showo, { bosId: cfg.token_ids['bos(<|sot|>)'], eosId: cfg.token_ids['eos(<|eot|>)'] });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: showo.max_seq_length, numVqTokens: showo.num_vq_tokens });
  return { layout, prompting, tokenIds: cfg.token_ids };
}

function sameMatrix(name: string, ours: number[][] | undefined, ref: unknown): string | undefined {
  if (!Array.isArray(ref)) return `${name}: reference is not a list`;
  if (!ours) return `${name}: not produced`;
  if (ours.length !== ref.length) return `${name}: ${ours.length} rows, reference ${ref.length}`;
  for (let b = 0; b < ours.length; b++) {
    const r = ref[b] as unknown;
    if (!Array.isArray(r) || r.length !== ours[b]!.length) return `${name}[${b}]: length ${ours[b]!.length}, reference ${Array.isArray(r) ? r.length : typeof r}`;
    for (let i = 0; i < r.length; i++) {
      if (ours[b]![i] !== r[i]) return `${name}[${b}][${i}] = ${ours[b]![i]}, reference ${String(r[i])}`;
    }
  }
  return undefined;
}

/** Builds the prompt of one prompts.json case with our builders. */
function buildCase(p: UniversalPrompting, c: any): PromptBatch {
  const inp = c.inputs;
  // The fixture records cond_dropout_prob 0 or 1, where the decision does not depend on the uniform.
  const uniforms = (n: number) => new Array<number>(n).fill(0.5);
  switch (c.task) {
    case 't2i_gen':
      return p.t2iGen({ texts: inp.text_ids, imageIds: inp.image_ids });
    case 'lvg_gen':
      return p.lvgGen({ texts: inp.text_ids, imageIds: inp.image_ids });
    case 't2i':
      return p.t2i({ texts: inp.text_ids, imageIds: inp.image_ids, labels: inp.labels, condDropoutProb: inp.cond_dropout_prob ?? 0, dropoutUniforms: uniforms(inp.text_ids.length) });
    case 'lvg':
      return p.lvg({ texts: inp.text_ids, imageIds: inp.image_ids, labels: inp.labels, condDropoutProb: inp.cond_dropout_prob ?? 0, dropoutUniforms: uniforms(inp.text_ids.length) });
    case 'lm':
      return p.lm({ texts: inp.text_ids, maxSeqLen: inp.max_seq_len });
    case 'mmu':
      return p.mmu({ imageIds: inp.image_ids, texts: inp.text_ids });
    default:
      if (c.name === 'interleaved_lvg' || /interleav/.test(String(c.task))) {
        const rows = (inp.text_ids_1 as number[][]).map((t1, b) => [
          { text: t1, imageIds: inp.image_ids_1[b] },
          { text: inp.text_ids_2[b], imageIds: inp.image_ids_2[b] },
        ]);
        return p.interleaved({ rows });
      }
      throw new Error(`no builder for task "${String(c.task)}"`);
  }
}

/**
 * Checks every `prompts.json` case (sequence ids, and label ids where the fixture has them) and the token layout
 * of `config.json`. `dir` is the reference folder or its `showo-tiny` folder. A missing or malformed fixture is a
 * failed check.
 */
export function checkPrompts(dir: string): CheckResult[] {
  const results: CheckResult[] = [];
  let tiny: TinyConfig;
  try {
    tiny = loadTiny(dir);
  } catch (e) {
    return [{ name: 'prompts/config', ok: false, detail: `cannot read config.json: ${(e as Error).message}` }];
  }
  // Token layout against config.json → token_ids.
  {
    const ours = tiny.layout.tokenIds();
    const diffs = Object.entries(tiny.tokenIds)
      .filter(([k, v]) => JSON.stringify(ours[k]) !== JSON.stringify(v))
      .map(([k, v]) => `${k}: ours ${JSON.stringify(ours[k])}, reference ${JSON.stringify(v)}`);
    results.push({ name: 'prompts/token_layout', ok: diffs.length === 0, ...(diffs.length ? { detail: diffs.join('; ') } : {}) });
  }
  let cases: any[];
  try {
    cases = readJson(path.join(tinyDir(dir), 'prompts.json')).cases;
    if (!Array.isArray(cases) || cases.length === 0) throw new Error('no cases');
  } catch (e) {
    results.push({ name: 'prompts/file', ok: false, detail: `cannot read prompts.json: ${(e as Error).message}` });
    return results;
  }
  for (const c of cases) {
    const name = `prompts/${String(c?.name)}`;
    try {
      const batch = buildCase(tiny.prompting, c);
      const problem =
        sameMatrix('sequence_ids', batch.inputIds, c.outputs.sequence_ids) ??
        (c.outputs.label_ids !== undefined ? sameMatrix('label_ids', batch.labels, c.outputs.label_ids) : undefined);
      results.push(problem ? { name, ok: false, detail: problem } : { name, ok: true });
    } catch (e) {
      results.push({ name, ok: false, detail: (e as Error).message });
    }
  }
  return results;
}

/** How the general builder reproduces an official mask case: segment options, pad policy, compared entries. */
interface GeneralRule {
  pad: PadPolicy;
  bidirectionalPrefix: boolean;
  /** Compare only rows and columns that are not `[PAD]` (the official lvg treats padding idiosyncratically). */
  nonPadOnly: boolean;
}

function officialMask(c: any, ids: MaskTokenIds): { mask: AllowMask; general: GeneralRule } {
  const call = String(c.official_call);
  const seqs = c.sequence_ids as number[][];
  if (call.startsWith('create_attention_mask_predict_next')) {
    const rm = /rm_pad_in_image=True/.test(call);
    // Sequences with an image: t2i (pads isolated iff rm_pad_in_image); without: lm (plain causal, pads as text).
    return { mask: createAttentionMaskPredictNext(seqs, ids, { rmPadInImage: rm }), general: { pad: rm ? 'isolate' : 'attend', bidirectionalPrefix: false, nonPadOnly: false } };
  }
  if (call.startsWith('create_attention_mask_for_mmu')) {
    return { mask: createAttentionMaskForMmu(seqs, ids), general: { pad: 'attend', bidirectionalPrefix: true, nonPadOnly: false } };
  }
  if (call.startsWith('create_attention_mask_lvg')) {
    return { mask: createAttentionMaskLvg(seqs, ids), general: { pad: 'isolate', bidirectionalPrefix: false, nonPadOnly: true } };
  }
  throw new Error(`unknown official mask function in "${call}"`);
}

function describeMismatch(ours: AllowMask, ref: AllowMask, seqs?: number[][], padId?: number): string | undefined {
  if (seqs === undefined) {
    const m = firstMismatch(ours, ref);
    if (!m) return undefined;
    return 'shape' in m ? `shape ${JSON.stringify(m.shape[0])} vs reference ${JSON.stringify(m.shape[1])}` : `b=${m.b} query ${m.i} key ${m.j}: ${m.actual}, reference ${m.expected}`;
  }
  if (ours.batch !== ref.batch || ours.queries !== ref.queries || ours.keys !== ref.keys) {
    return `shape ${JSON.stringify([ours.batch, ours.queries, ours.keys])} vs reference ${JSON.stringify([ref.batch, ref.queries, ref.keys])}`;
  }
  for (let b = 0; b < ref.batch; b++) {
    const s = seqs[b]!;
    for (let i = 0; i < ref.queries; i++) {
      if (s[i] === padId) continue;
      for (let j = 0; j < ref.keys; j++) {
        if (s[j] === padId) continue;
        const n = (b * ref.queries + i) * ref.keys + j;
        if (ours.data[n] !== ref.data[n]) return `b=${b} query ${i} key ${j}: ${ours.data[n]}, reference ${ref.data[n]}`;
      }
    }
  }
  return undefined;
}

/**
 * Checks every `masks.json` case: the official mask function reproduced exactly (`masks/<case>`), and the general
 * omni-attention builder agreeing with it (`masks/<case>/general`; on non-pad entries for the lvg mask).
 */
export function checkMasks(dir: string): CheckResult[] {
  const results: CheckResult[] = [];
  let ids: MaskTokenIds;
  let cases: Record<string, any>;
  try {
    const { layout } = loadTiny(dir);
    ids = { padId: layout.padId, soiId: layout.special('<|soi|>'), eoiId: layout.special('<|eoi|>') };
    cases = readJson(path.join(tinyDir(dir), 'masks.json')).cases;
    if (!cases || typeof cases !== 'object' || Object.keys(cases).length === 0) throw new Error('no cases');
  } catch (e) {
    return [{ name: 'masks/file', ok: false, detail: `cannot read config.json / masks.json: ${(e as Error).message}` }];
  }
  for (const [caseName, c] of Object.entries(cases)) {
    const name = `masks/${caseName}`;
    let ref: AllowMask;
    let official: { mask: AllowMask; general: GeneralRule };
    try {
      ref = fromAllowRows(c.allow_rows, c.shape);
      official = officialMask(c, ids);
    } catch (e) {
      results.push({ name, ok: false, detail: (e as Error).message });
      continue;
    }
    const problem = describeMismatch(official.mask, ref);
    results.push(problem ? { name, ok: false, detail: problem } : { name, ok: true });
    try {
      const rule = official.general;
      const seqs = c.sequence_ids as number[][];
      const general = buildOmniMask(
        seqs.map((s) => segmentsFromIds(s, ids, { bidirectionalPrefix: rule.bidirectionalPrefix })),
        { pad: rule.pad },
      );
      const gp = rule.nonPadOnly ? describeMismatch(general, ref, seqs, ids.padId) : describeMismatch(general, ref);
      results.push(gp ? { name: `${name}/general`, ok: false, detail: gp } : { name: `${name}/general`, ok: true, ...(rule.nonPadOnly ? { detail: 'non-pad rows and columns' } : {}) });
    } catch (e) {
      results.push({ name: `${name}/general`, ok: false, detail: (e as Error).message });
    }
  }
  return results;
}

/**
 * Conformance of `@showo/sampler` against the official sampling loops (showo-tiny fixtures):
 *
 * - `maskgit.json` (`Showo.t2i_generate`, g = 0 and g = 2): the pure MaskGIT step on the recorded probabilities;
 *   the prompts and mask our builders make; the full pipeline with the real model from `weights.safetensors`,
 *   step by step (model input ids, probabilities, raw draws, mask_len, masking, ids after, final ids), once with
 *   full recomputation (the official path) and once with the prefix cache; and the public `textToImage` stream.
 * - `mmu.json` (`Showo.mmu_generate`, top-k none and 1): the pure token choice on the recorded distributions, the
 *   prompt and mask, and the `understand` stream with the real model, recomputing and with the KV cache.
 *
 * Every check catches its own failure: a missing or malformed fixture is a failed check, never a crash.
 */
import fs from 'node:fs';
import path from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { RecordedUniforms, SafetensorsReader, type HostTensor } from '@showo/runtime';
import { UniversalPrompting } from '@showo/prompting';
import { createAttentionMaskForMmu, firstMismatch, fromAllowRows } from '@showo/omni-attention';
import { ShowoModel, readShowoConfig, tokenLayoutFor } from '@showo/showo-core';
import {
  AutoregressiveSampler,
  MASKED,
  MaskGitScheduler,
  buildWindow,
  imageBlocks,
  imageProbabilities,
  openImageSession,
  sampleInverseCdf,
  textToImage,
  understand,
  type CacheMode,
  type ImageGenerationEvent,
  type ImagePipelineDeps,
  type MaskGitState,
  type TextGenerationEvent,
} from '@showo/sampler';
import type { CheckResult } from '../types.js';

/** Max abs difference allowed between our probabilities and the recorded ones (logits tolerance ~1e-4). */
export const PROBS_TOLERANCE = 1e-4;

type Json = Record<string, any>;

function tinyDir(dir: string): string {
  const nested = path.join(dir, 'showo-tiny');
  return fs.existsSync(nested) ? nested : dir;
}

function failure(name: string, e: unknown): CheckResult {
  return { name, ok: false, detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
}

function readFixture(file: string): Json {
  if (!fs.existsSync(file)) throw new Error(`fixture ${file} is missing`);
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as Json;
  if (!json || !Array.isArray(json.runs) || json.runs.length === 0) throw new Error(`${path.basename(file)} has no "runs"`);
  return json;
}

function readTensors(file: string): Map<string, HostTensor> {
  const reader = SafetensorsReader.open(file);
  try {
    return new Map(reader.names().map((n) => [n, reader.read(n)]));
  } finally {
    reader.close();
  }
}

function intMatrix(x: unknown, what: string): number[][] {
  if (!Array.isArray(x) || x.length === 0 || !x.every((r) => Array.isArray(r) && r.length === (x[0] as unknown[]).length && r.every(Number.isInteger))) {
    throw new Error(`${what} is not a rectangular integer matrix`);
  }
  return x as number[][];
}

function numbers(x: unknown, n: number, what: string): number[] {
  if (!Array.isArray(x) || x.length !== n || !x.every((v) => typeof v === 'number' && Number.isFinite(v))) throw new Error(`${what} is not ${n} numbers`);
  return x as number[];
}

/** First index where two integer sequences differ, as text; undefined when equal. */
function diff(ours: ArrayLike<number>, ref: ArrayLike<number>): string | undefined {
  if (ours.length !== ref.length) return `length ${ours.length} ≠ ${ref.length}`;
  for (let i = 0; i < ours.length; i++) if (ours[i] !== ref[i]) return `at ${i}: ${ours[i]} ≠ ${ref[i]}`;
  return undefined;
}

/** The model-independent pieces for a showo-tiny folder. */
async function context(tiny: string): Promise<{ prompting: UniversalPrompting; n: number; off: number; mask: number; msl: number }> {
  const config = readShowoConfig(path.join(tiny, 'config.json'));
  const raw = JSON.parse(fs.readFileSync(path.join(tiny, 'config.json'), 'utf8')) as Json;
  const bos = raw.token_ids?.['bos(<|sot|>)'];
  if (!Number.isInteger(bos)) throw new Error('config.json has no token_ids["bos(<|sot|>)"]');
  if (config.max_seq_length === undefined) throw new Error('config.json has no max_seq_length');
  const layout = tokenLayoutFor(config, { bosId: bos });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: config.max_seq_length, numVqTokens: config.num_vq_tokens });
  return { prompting, n: config.num_vq_tokens, off: layout.imageOffset, mask: layout.maskId, msl: config.max_seq_length };
}

interface RunShape {
  name: string;
  g: number;
  b: number;
  steps: Json[];
  texts: number[][];
  initial: Int32Array;
  uniforms: number[];
}

function maskgitRun(run: Json, n: number, off: number, maskId: number): RunShape {
  const g = run.guidance_scale;
  if (typeof g !== 'number') throw new Error('run without guidance_scale');
  const ids = intMatrix(run.input_ids_initial, 'input_ids_initial');
  const b = ids.length;
  const l = ids[0]!.length;
  if (!Array.isArray(run.steps) || run.steps.length !== run.timesteps) throw new Error(`run g=${g}: ${run.steps?.length} steps recorded for timesteps ${run.timesteps}`);
  const initial = Int32Array.from(ids.flatMap((r) => r.slice(l - n - 1, l - 1).map((id) => (id === maskId ? MASKED : id - off))));
  const uniforms = (run.steps as Json[]).flatMap((s, k) => [...numbers(s.sample_uniforms, b * n, `step ${k} sample_uniforms`), ...numbers(s.gumbel_uniforms, b * n, `step ${k} gumbel_uniforms`)]);
  const texts = run.text_ids;
  if (!Array.isArray(texts) || texts.length !== b || !texts.every((t) => Array.isArray(t) && t.every(Number.isInteger))) throw new Error(`text_ids is not ${b} lists of ids`);
  return { name: `g${g}`, g, b, steps: run.steps, texts, initial, uniforms };
}

/** Compares one MaskGIT step output with the recorded step; returns the first difference. */
function compareStep(out: ReturnType<MaskGitScheduler['step']>, ref: Json, l: number, n: number, off: number, maskId: number): string | undefined {
  const after = intMatrix(ref.input_ids_after, 'input_ids_after').flatMap((r) => r.slice(l - n - 1, l - 1));
  const checks: [string, string | undefined][] = [
    ['sampled_codes_raw', diff(out.drawn, ref.sampled_codes_raw)],
    ['mask_len', diff(out.maskLen, ref.mask_len)],
    ['temperature', Math.abs(out.temperature - ref.temperature) < 1e-12 ? undefined : `${out.temperature} ≠ ${ref.temperature}`],
    ['masking', diff(out.masking, intMatrix(ref.masking, 'masking').flat())],
    ['input_ids_after', diff(Array.from(out.state.codes, (c) => (c === MASKED ? maskId : c + off)), after)],
  ];
  const bad = checks.find(([, d]) => d !== undefined);
  return bad ? `${bad[0]} ${bad[1]}` : undefined;
}

/** Checks the sampler against maskgit.json (pure step, prompts/mask, full pipeline with the real model). */
export async function checkMaskgit(dir: string): Promise<CheckResult[]> {
  const tiny = tinyDir(dir);
  const results: CheckResult[] = [];
  let fx: Json;
  let probs: Map<string, HostTensor>;
  let ctx: Awaited<ReturnType<typeof context>>;
  try {
    fx = readFixture(path.join(tiny, 'maskgit.json'));
    probs = readTensors(path.join(tiny, 'maskgit.safetensors'));
    ctx = await context(tiny);
  } catch (e) {
    return [failure('maskgit/fixture', e)];
  }
  const { prompting, n, off, mask: maskId } = ctx;
  const runs: (RunShape & { raw: Json })[] = [];
  for (const raw of fx.runs as Json[]) {
    try {
      runs.push({ ...maskgitRun(raw, n, off, maskId), raw });
    } catch (e) {
      results.push(failure(`maskgit/g${raw?.guidance_scale}/fixture`, e));
    }
  }

  // 1. The pure step on the recorded probabilities.
  for (const run of runs) {
    const name = `maskgit/${run.name}/step-on-recorded-probs`;
    try {
      const sched = new MaskGitScheduler({ steps: run.raw.timesteps, schedule: run.raw.schedule, temperature: run.raw.temperature });
      const l = run.raw.input_ids_initial[0].length;
      const uniforms = new RecordedUniforms(run.uniforms);
      let state: MaskGitState = sched.initialState(run.initial, run.b);
      let problem: string | undefined;
      let last;
      for (const [s, ref] of run.steps.entries()) {
        const p = probs.get(`g${run.g.toFixed(1)}.step${s}.probs`);
        if (!p || p.shape[0] !== run.b * n) throw new Error(`maskgit.safetensors lacks g${run.g.toFixed(1)}.step${s}.probs [${run.b * n}, K]`);
        last = sched.step(p.data as Float32Array, state, uniforms);
        problem = compareStep(last, ref, l, n, off, maskId);
        if (problem) {
          problem = `step ${s}: ${problem}`;
          break;
        }
        state = last.state;
      }
      problem ??= diff(last!.sampled, intMatrix(run.raw.final_sampled_ids, 'final_sampled_ids').flat()) && `final_sampled_ids ${diff(last!.sampled, run.raw.final_sampled_ids.flat())}`;
      results.push({ name, ok: !problem, detail: problem ?? `${run.steps.length} steps, every discrete output equal` });
    } catch (e) {
      results.push(failure(name, e));
    }
  }

  // 2. Prompts and attention mask built by our pipeline.
  for (const run of runs) {
    const name = `maskgit/${run.name}/prompt-and-mask`;
    try {
      const window = buildWindow({ prompting }, run.texts, run.initial, run.g, false);
      const refRows = [...intMatrix(run.raw.input_ids_initial, 'input_ids_initial'), ...(run.g > 0 ? intMatrix(run.raw.uncond_input_ids_initial, 'uncond_input_ids_initial') : [])];
      const state = new MaskGitScheduler({ steps: 1 }).initialState(run.initial, run.b);
      const ours = rowsOfWindow(window, imageBlocks({ prompting }, state, window.input.rows), n);
      const idsProblem = diff(ours.flat(), refRows.flat());
      const refMask = fromAllowRows(run.raw.attention_mask_allow_rows, run.raw.attention_mask_shape);
      const maskProblem = firstMismatch(window.input.allow, refMask);
      const problem = idsProblem ? `ids ${idsProblem}` : maskProblem ? `mask ${JSON.stringify(maskProblem)}` : undefined;
      results.push({ name, ok: !problem, detail: problem ?? `${refRows.length} rows × ${refRows[0]!.length}, ids and mask equal` });
    } catch (e) {
      results.push(failure(name, e));
    }
  }

  // 3. The full loop with the real model, step by step, recomputing (official) and with the prefix cache.
  let model: ShowoModel | undefined;
  try {
    model = await ShowoModel.load(tiny, { weightsFile: 'weights.safetensors' });
  } catch (e) {
    results.push(failure('maskgit/model', e));
  }
  if (model) {
    try {
      for (const cache of ['none', 'auto'] as CacheMode[]) {
        for (const run of runs) results.push(await modelLoopCheck(model, prompting, run, cache, probs, n, off, maskId));
      }
      for (const run of runs) results.push(await streamCheck(model, prompting, run, n, maskId, off));
    } finally {
      model.dispose();
    }
  }
  return results;
}

function rowsOfWindow(window: ReturnType<typeof buildWindow>, blocks: Int32Array, n: number): number[][] {
  const { rows, prefixLength: p, prefixIds } = window.input;
  return Array.from({ length: rows }, (_, r) => [...prefixIds.subarray(r * p, (r + 1) * p), ...blocks.subarray(r * (n + 2), (r + 1) * (n + 2))]);
}

async function modelLoopCheck(
  model: ShowoModel,
  prompting: UniversalPrompting,
  run: RunShape & { raw: Json },
  cache: CacheMode,
  recorded: Map<string, HostTensor>,
  n: number,
  off: number,
  maskId: number,
): Promise<CheckResult> {
  const name = `maskgit/${run.name}/model-${cache === 'none' ? 'recompute' : 'prefix-cache'}`;
  const deps: ImagePipelineDeps = { model, prompting, cache };
  try {
    const sched = new MaskGitScheduler({ steps: run.raw.timesteps, schedule: run.raw.schedule, temperature: run.raw.temperature });
    const l = run.raw.input_ids_initial[0].length;
    const uniforms = new RecordedUniforms(run.uniforms);
    let state = sched.initialState(run.initial, run.b);
    let worst = 0;
    let last;
    const window = buildWindow(deps, run.texts, run.initial, run.g, false);
    const session = openImageSession(model, window.input, cache);
    try {
      for (const [s, ref] of run.steps.entries()) {
        const blocks = imageBlocks(deps, state, window.input.rows);
        const idsProblem = diff(rowsOfWindow(window, blocks, n).flat(), intMatrix(ref.model_input_ids, 'model_input_ids').flat());
        if (idsProblem) return { name, ok: false, detail: `step ${s}: model_input_ids ${idsProblem}` };
        const probs = await imageProbabilities(deps, session, window, state, run.g);
        worst = Math.max(worst, maxAbsDiff(probs, recorded.get(`g${run.g.toFixed(1)}.step${s}.probs`)));
        last = sched.step(probs, state, uniforms);
        const problem = compareStep(last, ref, l, n, off, maskId);
        if (problem) return { name, ok: false, detail: `step ${s}: ${problem}` };
        state = last.state;
      }
    } finally {
      session.dispose();
    }
    const finalProblem = diff(last!.sampled, intMatrix(run.raw.final_sampled_ids, 'final_sampled_ids').flat());
    if (finalProblem) return { name, ok: false, detail: `final_sampled_ids ${finalProblem}` };
    return { name, ok: worst <= PROBS_TOLERANCE, detail: `every discrete output equal; max |Δprob| ${worst.toExponential(2)} (tolerance ${PROBS_TOLERANCE})` };
  } catch (e) {
    return failure(name, e);
  }
}

/** Max |ours − recorded|; a missing or mis-sized recorded tensor counts as an infinite difference. */
function maxAbsDiff(ours: Float32Array, ref: HostTensor | undefined): number {
  if (!ref || ref.data.length !== ours.length) return Infinity;
  let m = 0;
  for (let i = 0; i < ours.length; i++) {
    const d = Math.abs(ours[i]! - ref.data[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

async function streamCheck(model: ShowoModel, prompting: UniversalPrompting, run: RunShape & { raw: Json }, n: number, maskId: number, off: number): Promise<CheckResult> {
  const name = `maskgit/${run.name}/textToImage-stream`;
  try {
    const events = await lastValueFrom(
      textToImage({ model, prompting }, { prompts: run.texts, steps: run.raw.timesteps, schedule: run.raw.schedule, temperature: run.raw.temperature, guidanceScale: run.g, uniforms: new RecordedUniforms(run.uniforms) }).pipe(
        toArray(),
      ),
    );
    const steps = events.filter((e): e is Extract<ImageGenerationEvent, { type: 'step' }> => e.type === 'step');
    for (const [s, e] of steps.entries()) {
      const after = intMatrix(run.steps[s]!.input_ids_after, 'input_ids_after').map((r) => r.slice(-n - 1, -1));
      const problem = diff(e.tokens.flatMap((t) => Array.from(t, (c) => (c === MASKED ? maskId : c + off))), after.flat());
      if (problem) return { name, ok: false, detail: `step ${s}: tokens ${problem}` };
      const lenProblem = diff(e.maskLen, run.steps[s]!.mask_len);
      if (lenProblem) return { name, ok: false, detail: `step ${s}: mask_len ${lenProblem}` };
    }
    const done = events.at(-1);
    if (done?.type !== 'done') return { name, ok: false, detail: 'the stream ended without a result' };
    const problem = diff(done.result.codes.flatMap((c) => Array.from(c)), intMatrix(run.raw.final_sampled_ids, 'final_sampled_ids').flat());
    return { name, ok: !problem && steps.length === run.steps.length, detail: problem ? `final ${problem}` : `${steps.length} step events, final ids equal` };
  } catch (e) {
    return failure(name, e);
  }
}

/** Checks the sampler against mmu.json (pure token choice, prompt/mask, `understand` with the real model). */
export async function checkMmu(dir: string): Promise<CheckResult[]> {
  const tiny = tinyDir(dir);
  const results: CheckResult[] = [];
  let fx: Json;
  let probs: Map<string, HostTensor>;
  let ctx: Awaited<ReturnType<typeof context>>;
  try {
    fx = readFixture(path.join(tiny, 'mmu.json'));
    probs = readTensors(path.join(tiny, 'mmu.safetensors'));
    ctx = await context(tiny);
  } catch (e) {
    return [failure('mmu/fixture', e)];
  }
  const { prompting, off } = ctx;
  const layout = prompting.layout;
  const runs = fx.runs as Json[];
  const runName = (run: Json) => `mmu/topk${run.top_k ?? 'None'}`;

  for (const run of runs) {
    const name = `${runName(run)}/choice-on-recorded-probs`;
    try {
      if (!Array.isArray(run.steps) || run.steps.length === 0) throw new Error('run without steps');
      const key = `topk${run.top_k ?? 'None'}`;
      const sampler = new AutoregressiveSampler({ temperature: run.temperature, topK: run.top_k ?? undefined, maxNewTokens: run.max_new_tokens, stopIds: [run.eot_token] });
      const uniforms = new RecordedUniforms(run.steps.map((s: Json) => s.sample_uniform));
      let state = sampler.initialState(1);
      let problem: string | undefined;
      for (const [i, s] of (run.steps as Json[]).entries()) {
        const p = probs.get(`${key}.step${i}.probs`);
        if (!p) throw new Error(`mmu.safetensors lacks ${key}.step${i}.probs`);
        const direct = sampleInverseCdf(p.data, 0, p.data.length, s.sample_uniform);
        // The sampler on log-probabilities: softmax(log p) = p up to float32 noise, and top-k keeps the same set.
        const out = sampler.step(Float32Array.from(p.data, (x) => Math.log(x)), state, uniforms);
        state = out.state;
        if (direct !== s.token || out.tokens[0] !== s.token) {
          problem = `step ${i}: inverse CDF ${direct}, sampler ${out.tokens[0]}, recorded ${s.token}`;
          break;
        }
      }
      problem ??= diff(state.tokens[0]!, run.generated_tokens) && `generated_tokens ${diff(state.tokens[0]!, run.generated_tokens)}`;
      results.push({ name, ok: !problem, detail: problem ?? `${run.steps.length} tokens equal` });
    } catch (e) {
      results.push(failure(name, e));
    }
  }

  for (const run of runs) {
    const name = `${runName(run)}/prompt-and-mask`;
    try {
      const image = intMatrix(run.image_ids, 'image_ids');
      const ours = prompting.mmuGen({ imageIds: image, texts: [run.question_text_ids] }).inputIds;
      const idsProblem = diff(ours.flat(), intMatrix(run.prompt_ids, 'prompt_ids').flat());
      const mask = createAttentionMaskForMmu(ours, { eoiId: layout.special('<|eoi|>') });
      const maskProblem = firstMismatch(mask, fromAllowRows(run.attention_mask_allow_rows, run.attention_mask_shape));
      const problem = idsProblem ? `ids ${idsProblem}` : maskProblem ? `mask ${JSON.stringify(maskProblem)}` : undefined;
      results.push({ name, ok: !problem, detail: problem ?? 'ids and mask equal' });
    } catch (e) {
      results.push(failure(name, e));
    }
  }

  let model: ShowoModel | undefined;
  try {
    model = await ShowoModel.load(tiny, { weightsFile: 'weights.safetensors' });
  } catch (e) {
    results.push(failure('mmu/model', e));
  }
  if (model) {
    try {
      for (const cache of ['none', 'auto'] as CacheMode[]) {
        for (const run of runs) {
          const name = `${runName(run)}/understand-${cache === 'none' ? 'recompute' : 'kv-cache'}`;
          try {
            const images = intMatrix(run.image_ids, 'image_ids').map((ids) => ({ codes: ids.map((i) => i - off) }));
            const events: TextGenerationEvent[] = await lastValueFrom(
              understand(
                { model, prompting, cache },
                {
                  images,
                  questions: [run.question_text_ids],
                  topK: run.top_k ?? undefined,
                  temperature: run.temperature,
                  maxNewTokens: run.max_new_tokens,
                  stopIds: [run.eot_token],
                  uniforms: new RecordedUniforms(run.steps.map((s: Json) => s.sample_uniform)),
                },
              ).pipe(toArray()),
            );
            const tokens = events.filter((e): e is Extract<TextGenerationEvent, { type: 'token' }> => e.type === 'token').map((e) => e.token);
            const done = events.at(-1);
            const stepProblem = diff(tokens, (run.steps as Json[]).map((s) => s.token));
            const problem =
              stepProblem !== undefined
                ? `per-step tokens ${stepProblem}`
                : done?.type !== 'done'
                  ? 'no result'
                  : diff(done.result.tokens[0]!, run.generated_tokens) && `generated_tokens ${diff(done.result.tokens[0]!, run.generated_tokens)}`;
            results.push({ name, ok: !problem, detail: problem || `${tokens.length} tokens equal` });
          } catch (e) {
            results.push(failure(name, e));
          }
        }
      }
    } finally {
      model.dispose();
    }
  }
  return results;
}

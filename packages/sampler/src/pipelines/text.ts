/**
 * Autoregressive decoding as streams: multimodal understanding (`<|mmu|>` image + question → answer, the official
 * `mmu_generate` made batch-aware and cached) and plain decoding from any prompt and mask.
 */
import * as tf from '@tensorflow/tfjs';
import type { Observable } from 'rxjs';
import { InvalidArgumentError, SeededRandom, type UniformSource } from '@showo/runtime';
import { buildOmniMaskFromIds, createAttentionMaskForMmu, selectBatch, type AllowMask } from '@showo/omni-attention';
import type { TextInput, TextTokenizer, UniversalPrompting } from '@showo/prompting';
import { AutoregressiveSampler, isGreedy, type AutoregressiveSamplerOptions, type StopReason } from '../autoregressive.js';
import { BeamSearch } from '../beam.js';
import { ImageSizeMismatchError, InvalidSamplingOptionError, PromptBudgetError } from '../errors.js';
import type { TextGenerationEvent } from '../events.js';
import { openTextSession, type CacheMode, type TextLogitsSession, type TextModel, type TextSessionInput } from '../sessions.js';
import { generation, type GenerationContext } from '../stream.js';
import type { ImageCodec, TokenGrid } from '../types.js';
import { checkImageInputs, modelGrid, positionBudget, resolveImageCodes, type ImageInput } from './image-common.js';

/** What the text pipelines are built from. */
export interface TextPipelineDeps {
  model: TextModel;
  prompting: UniversalPrompting;
  grid?: TokenGrid;
  codec?: ImageCodec;
  maxPositions?: number;
  /** Use the model's KV cache when it has one (default `auto`). */
  cache?: CacheMode;
  uniforms?: UniformSource;
}

/** Options of every decoding request. */
export interface DecodingRequestOptions extends AutoregressiveSamplerOptions {
  uniforms?: UniformSource;
  seed?: number;
  signal?: AbortSignal;
  /** Text of each row in the token events and the result (default: when the prompting has a tokenizer). */
  tokenizer?: TextTokenizer;
  /**
   * Beam search with this many beams per row (default 1: one token at a time by the sampling options). Beam
   * search is deterministic, so it cannot be combined with `temperature` > 0 (unless `greedy`), `topK` or `topP`.
   * Token events then show each row's best beam so far, whose earlier tokens may change from one event to the next.
   */
  numBeams?: number;
  /** Beam search: exponent of the length normalisation of finished answers (default 1; see `BeamSearch`). */
  lengthPenalty?: number;
}

/** A request for plain decoding from prepared prompts. */
export interface GenerateTokensRequest extends DecodingRequestOptions {
  /** Prompt ids per row; rows of different length are left-padded with `padId`, whose columns are masked out. */
  prompts?: readonly (readonly number[])[];
  /** Or: a prepared input (ids and mask) used as it is. */
  input?: TextSessionInput;
  /** Padding id for left padding (default: the prompting's `[PAD]`). */
  padId?: number;
}

function resolveSampler(request: DecodingRequestOptions, defaultStop: number): AutoregressiveSampler {
  return new AutoregressiveSampler({ ...request, stopIds: request.stopIds ?? [defaultStop] });
}

function resolveUniforms(deps: { uniforms?: UniformSource }, request: DecodingRequestOptions): UniformSource {
  if (request.seed !== undefined && !Number.isInteger(request.seed)) throw new InvalidSamplingOptionError('seed', request.seed, 'an integer');
  return request.uniforms ?? (request.seed !== undefined ? undefined : deps.uniforms) ?? new SeededRandom(request.seed ?? 0);
}

/** Reads and frees the logits; asynchronously, so that backends without synchronous reads (WebGPU) work. */
async function lastLogits(t: tf.Tensor2D): Promise<Float32Array> {
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
}

/** The decoding loop shared by the text pipelines. */
async function decodeLoop(
  ctx: GenerationContext<TextGenerationEvent>,
  task: 'mmu' | 'text',
  model: TextModel,
  cache: CacheMode,
  input: TextSessionInput,
  sampler: AutoregressiveSampler,
  uniforms: UniformSource,
  tokenizer: TextTokenizer | undefined,
  fillerId: number,
): Promise<void> {
  const raw: TextLogitsSession = openTextSession(model, input, cache);
  let released = false;
  const release = (): void => {
    if (!released) {
      released = true;
      raw.dispose();
    }
  };
  ctx.own({ dispose: release });
  ctx.emit({ type: 'start', task, batch: input.rows, promptLength: input.length, cached: raw.cached });
  await ctx.yield();
  const text = (tokens: number[]): string | undefined => tokenizer?.decode(tokens.filter((t) => t < tokenizer.vocabSize), { skipSpecialTokens: true });
  try {
    let state = sampler.initialState(input.rows);
    let logits = await lastLogits(raw.start());
    for (;;) {
      const out = sampler.step(logits, state, uniforms);
      state = out.state;
      for (let b = 0; b < input.rows; b++) {
        const token = out.tokens[b]!;
        if (token < 0) continue;
        const tokens = [...state.tokens[b]!];
        const stop = sampler.stopReason(state, b);
        const t = text(tokens);
        ctx.emit({ type: 'token', task, step: out.step, row: b, token, tokens, ...(t !== undefined ? { text: t } : {}), ...(stop ? { stop } : {}) });
      }
      if (out.done) break;
      await ctx.yield();
      // Finished rows still take part in the batch: they are fed a filler whose logits are ignored.
      const next = Int32Array.from(out.tokens, (t) => (t < 0 ? fillerId : t));
      logits = await lastLogits(raw.append(next));
    }
    const tokens = state.tokens.map((t) => [...t]);
    const stopReasons = tokens.map((_, b) => sampler.stopReason(state, b) as StopReason);
    const texts = tokenizer ? tokens.map((t) => text(t)!) : undefined;
    ctx.emit({ type: 'done', task, result: { tokens, stopReasons, ...(texts ? { texts } : {}) } });
  } finally {
    release();
  }
}

/** The beam search of a request, or undefined for one-token-at-a-time decoding (typed error for bad combinations). */
function resolveBeams(request: DecodingRequestOptions, defaultStop: number): BeamSearch | undefined {
  const k = request.numBeams ?? 1;
  if (!(Number.isInteger(k) && k >= 1)) throw new InvalidSamplingOptionError('numBeams', k, 'an integer ≥ 1');
  if (k === 1 && request.lengthPenalty === undefined) return undefined;
  const sampling = request.topK !== undefined || request.topP !== undefined || (!isGreedy(request) && request.temperature !== undefined);
  if (sampling) throw new InvalidSamplingOptionError('numBeams', k, 'beam search without temperature, topK or topP (it is deterministic)');
  return new BeamSearch({
    numBeams: k,
    stopIds: request.stopIds ?? [defaultStop],
    ...(request.maxNewTokens !== undefined ? { maxNewTokens: request.maxNewTokens } : {}),
    ...(request.lengthPenalty !== undefined ? { lengthPenalty: request.lengthPenalty } : {}),
  });
}

/** Every row of a prepared input repeated `k` times in place (row b → rows b·k … b·k + k − 1). */
function repeatRows(input: TextSessionInput, k: number): TextSessionInput {
  if (k === 1) return input;
  const order = Array.from({ length: input.rows * k }, (_, j) => Math.floor(j / k));
  const ids = new Int32Array(order.length * input.length);
  order.forEach((r, j) => ids.set(input.ids.subarray(r * input.length, (r + 1) * input.length), j * input.length));
  return { ids, rows: order.length, length: input.length, allow: selectBatch(input.allow, order) };
}

/** The beam-search counterpart of {@link decodeLoop}: the same events and result, one best answer per row. */
async function beamLoop(
  ctx: GenerationContext<TextGenerationEvent>,
  task: 'mmu' | 'text',
  model: TextModel,
  cache: CacheMode,
  input: TextSessionInput,
  search: BeamSearch,
  tokenizer: TextTokenizer | undefined,
  fillerId: number,
): Promise<void> {
  const raw: TextLogitsSession = openTextSession(model, repeatRows(input, search.numBeams), cache);
  let released = false;
  const release = (): void => {
    if (!released) {
      released = true;
      raw.dispose();
    }
  };
  ctx.own({ dispose: release });
  const reorder = search.numBeams > 1 ? raw.reorder?.bind(raw) : (): void => {};
  if (!reorder) {
    release();
    throw new InvalidSamplingOptionError('numBeams', search.numBeams, 'a model whose decoding session can reorder its rows (this one cannot; use numBeams 1)');
  }
  ctx.emit({ type: 'start', task, batch: input.rows, promptLength: input.length, cached: raw.cached });
  await ctx.yield();
  const text = (tokens: number[]): string | undefined => tokenizer?.decode(tokens.filter((t) => t < tokenizer.vocabSize), { skipSpecialTokens: true });
  try {
    let state = search.initialState(input.rows);
    let logits = await lastLogits(raw.start());
    for (;;) {
      const out = search.step(logits, state, fillerId);
      const wasDone = state.prompts.map((p) => p.done);
      state = out.state;
      const current = search.current(state);
      const stopReasons = search.best(state).stopReasons;
      for (let b = 0; b < input.rows; b++) {
        if (wasDone[b]) continue;
        const tokens = current[b]!;
        const t = text(tokens);
        const stop = state.prompts[b]!.done ? stopReasons[b] : undefined;
        ctx.emit({ type: 'token', task, step: state.step - 1, row: b, token: tokens[tokens.length - 1] ?? fillerId, tokens, ...(t !== undefined ? { text: t } : {}), ...(stop ? { stop } : {}) });
      }
      if (out.done) break;
      await ctx.yield();
      reorder(out.sources);
      logits = await lastLogits(raw.append(out.tokens));
    }
    const best = search.best(state);
    const texts = tokenizer ? best.tokens.map((t) => text(t)!) : undefined;
    ctx.emit({ type: 'done', task, result: { tokens: best.tokens, stopReasons: best.stopReasons, logProbs: best.logProbs, ...(texts ? { texts } : {}) } });
  } finally {
    release();
  }
}

/** Left-pads rows with `padId`; their columns are masked out by the general omni-attention rule (pads isolated). */
function leftPad(rows: readonly (readonly number[])[], padId: number): { ids: number[][]; padded: boolean } {
  const width = Math.max(...rows.map((r) => r.length));
  return { ids: rows.map((r) => [...new Array<number>(width - r.length).fill(padId), ...r]), padded: rows.some((r) => r.length !== width) };
}

function sessionInput(ids: number[][], allow: AllowMask): TextSessionInput {
  const l = ids[0]!.length;
  const flat = new Int32Array(ids.length * l);
  ids.forEach((r, i) => flat.set(r, i * l));
  return { ids: flat, rows: ids.length, length: l, allow };
}

/**
 * Plain autoregressive decoding from prompt ids (causal text mask, left padding masked out) or from a prepared
 * input (ids + any mask). Stops per row on `stopIds` (default the EOS) or `maxNewTokens`.
 */
export function generateTokens(deps: TextPipelineDeps, request: GenerateTokensRequest): Observable<TextGenerationEvent> {
  const L = deps.prompting.layout;
  const sampler = resolveSampler(request, L.eosId);
  const beams = resolveBeams(request, L.eosId);
  const uniforms = resolveUniforms(deps, request);
  let input: TextSessionInput;
  if (request.input) {
    const i = request.input;
    if (i.allow.batch !== i.rows || i.allow.queries !== i.length || i.allow.keys !== i.length || i.ids.length !== i.rows * i.length) {
      throw new InvalidArgumentError(`prepared input: ids [${i.rows}, ${i.length}] and mask [${i.allow.batch}, ${i.allow.queries}, ${i.allow.keys}] do not agree`);
    }
    input = i;
  } else {
    const prompts = request.prompts;
    if (!prompts || prompts.length === 0 || prompts.some((p) => p.length === 0)) throw new InvalidArgumentError('generateTokens needs non-empty prompts (or a prepared input)');
    const { ids } = leftPad(prompts, request.padId ?? L.padId);
    const tokens = { padId: request.padId ?? L.padId, soiId: L.special('<|soi|>'), eoiId: L.special('<|eoi|>') };
    input = sessionInput(ids, buildOmniMaskFromIds(ids, tokens, { pad: 'isolate' }));
  }
  const budget = positionBudget(deps);
  if (input.length + sampler.maxNewTokens > budget) throw new PromptBudgetError(0, input.length + sampler.maxNewTokens, budget, 'prompt + maxNewTokens');
  const tokenizer = request.tokenizer ?? deps.prompting.tokenizer;
  const cache = deps.cache ?? 'auto';
  const filler = request.padId ?? L.padId;
  return generation<TextGenerationEvent>(
    (ctx) => (beams ? beamLoop(ctx, 'text', deps.model, cache, input, beams, tokenizer, filler) : decodeLoop(ctx, 'text', deps.model, cache, input, sampler, uniforms, tokenizer, filler)),
    request.signal,
  );
}

/** A request for multimodal understanding (image + question → answer). */
export interface UnderstandRequest extends DecodingRequestOptions {
  images: readonly ImageInput[];
  questions: readonly TextInput[];
}

/** One image per text, each valid for the model's grid (typed errors); the grid. */
function checkImageTextPairs(deps: TextPipelineDeps, images: readonly ImageInput[], texts: readonly TextInput[], noun: string, imageWhat: string): TokenGrid {
  const grid = modelGrid(deps);
  if (!Array.isArray(texts) || texts.length === 0) throw new InvalidArgumentError(`at least one ${noun} is needed`);
  checkImageInputs(deps, images, grid, imageWhat);
  if (images.length !== texts.length) throw new ImageSizeMismatchError('the image batch', `one image per ${noun} (${texts.length})`, `${images.length} images`);
  return grid;
}

/**
 * Multimodal understanding as inference_mmu.py does it: `<|mmu|> <|soi|> image <|eoi|> BOS question…`, mask
 * `create_attention_mask_for_mmu`, then decoding until EOS or `maxNewTokens` (default 100; inference_mmu.py uses
 * top-k 1). Batches: rows of different question length are left-padded and masked with the general rule (pads
 * isolated, `<|mmu|>`+image bidirectional), which equals the official mask for each row.
 *
 * Budgets: `BOS question` must fit `max_seq_length` (the text budget of training), and prompt + `maxNewTokens` the
 * model's position budget.
 */
export function understand(deps: TextPipelineDeps, request: UnderstandRequest): Observable<TextGenerationEvent> {
  const p = deps.prompting;
  const L = p.layout;
  const sampler = resolveSampler(request, L.eosId);
  const beams = resolveBeams(request, L.eosId);
  const uniforms = resolveUniforms(deps, request);
  const grid = checkImageTextPairs(deps, request.images, request.questions, 'question', 'mmu image');
  const texts = p.encodeTexts(request.questions);
  texts.forEach((t, row) => {
    if (t.length + 1 > p.maxSeqLength) throw new PromptBudgetError(row, t.length + 1, p.maxSeqLength, 'question (BOS + text)');
  });
  const promptLength = 3 + p.numVqTokens + 1 + Math.max(...texts.map((t) => t.length));
  const budget = positionBudget(deps);
  if (promptLength + sampler.maxNewTokens > budget) throw new PromptBudgetError(0, promptLength + sampler.maxNewTokens, budget, 'mmu prompt + maxNewTokens');
  const tokenizer = request.tokenizer ?? p.tokenizer;
  return generation<TextGenerationEvent>(async (ctx) => {
    const codes = await resolveImageCodes(deps, request.images, grid);
    const ids = p.mmuGen({ imageIds: codes.map((c) => L.codesToIds(c)), texts }).inputIds;
    const special = { padId: L.padId, soiId: L.special('<|soi|>'), eoiId: L.special('<|eoi|>') };
    const padded = ids.some((r) => r[0] === L.padId);
    const allow = padded ? buildOmniMaskFromIds(ids, special, { pad: 'isolate', bidirectionalPrefix: true }) : createAttentionMaskForMmu(ids, special);
    const input = sessionInput(ids, allow);
    const cache = deps.cache ?? 'auto';
    await (beams ? beamLoop(ctx, 'mmu', deps.model, cache, input, beams, tokenizer, L.padId) : decodeLoop(ctx, 'mmu', deps.model, cache, input, sampler, uniforms, tokenizer, L.padId));
  }, request.signal);
}

/** A request for {@link scoreTexts}. */
export interface ScoreTextsRequest {
  /** One image per text (codes, or pixels when the pipeline has a codec). */
  images: readonly ImageInput[];
  /** The texts to score, e.g. captions. */
  texts: readonly TextInput[];
}

/** What {@link scoreTexts} returns, per row. */
export interface TextScores {
  /** Σ log p(token) over the text's tokens and its EOS (natural log). */
  logProbs: number[];
  /** Tokens scored per row (text + EOS). */
  tokens: number[];
}

/**
 * How likely the model finds each text as the caption of its image: the log-probability of `text EOS` after
 * `<|mmu|> <|soi|> image <|eoi|> BOS`, the layout of the understanding training rows (`UniversalPrompting.mmu`),
 * teacher-forced through a decoding session (KV cache when the model has one). Used to rerank generated images
 * by the model's own understanding; frees every tensor it makes, also on error.
 */
export async function scoreTexts(deps: TextPipelineDeps, request: ScoreTextsRequest): Promise<TextScores> {
  const p = deps.prompting;
  const L = p.layout;
  const grid = checkImageTextPairs(deps, request.images, request.texts, 'text', 'scored image');
  const texts = p.encodeTexts(request.texts).map((t) => [...t, L.eosId]);
  texts.forEach((t, row) => {
    if (t.length + 1 > p.maxSeqLength) throw new PromptBudgetError(row, t.length + 1, p.maxSeqLength, 'scored text (BOS + text + EOS)');
  });
  const longest = Math.max(...texts.map((t) => t.length));
  const budget = positionBudget(deps);
  if (3 + p.numVqTokens + 1 + longest > budget) throw new PromptBudgetError(0, 3 + p.numVqTokens + 1 + longest, budget, 'mmu prompt + scored text');
  const codes = await resolveImageCodes(deps, request.images, grid);
  const ids = p.mmuGen({ imageIds: codes.map((c) => L.codesToIds(c)), texts: texts.map(() => []) }).inputIds;
  const allow = createAttentionMaskForMmu(ids, { eoiId: L.special('<|eoi|>') });
  const rows = ids.length;
  const session = openTextSession(deps.model, sessionInput(ids, allow), deps.cache ?? 'auto');
  const logProbs = new Array<number>(rows).fill(0);
  try {
    let logits = await lastLogits(session.start());
    for (let j = 0; j < longest; j++) {
      const v = logits.length / rows;
      const next = new Int32Array(rows);
      for (let r = 0; r < rows; r++) {
        const target = texts[r]![j];
        next[r] = target ?? L.padId;
        if (target === undefined) continue;
        let max = -Infinity;
        for (let k = 0; k < v; k++) max = Math.max(max, logits[r * v + k]!);
        let sum = 0;
        for (let k = 0; k < v; k++) sum += Math.exp(logits[r * v + k]! - max);
        logProbs[r]! += logits[r * v + target]! - max - Math.log(sum);
      }
      if (j + 1 < longest) logits = await lastLogits(session.append(next));
    }
  } finally {
    session.dispose();
  }
  return { logProbs, tokens: texts.map((t) => t.length) };
}

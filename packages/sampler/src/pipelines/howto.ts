/**
 * Mixed-modality how-to generation (GenHowTo-style): a question, then steps, each a text and the keyframe of the
 * whole scene after it, in ONE interleaved sequence that every new part is conditioned on:
 *
 * ```
 * <|t2i|> BOS question step₁ EOS  <|soi|> kf₁ <|eoi|>  BOS step₂ EOS  <|soi|> kf₂ <|eoi|>  …  [BOS EOS]
 * ```
 *
 * (the layout `@showo/trainer`'s `buildHowtoBatch` / `buildInterleavedHowtoBatch` train on; guided mode
 * left-pads the first text block to `max_text_len` exactly as training does, free mode leaves the padding out —
 * padding is isolated by the mask and Phi's rotary embedding is relative, so the two read the same).
 *
 * The pipeline is a composition of streams, not one loop: per step a text stream (free mode: the sampler's
 * {@link generateTokens} decoding until `EOS`; guided mode: the given text) followed by an image stream (one
 * MaskGIT pass with the sampler's {@link runMaskGitPass} over the keyframe block, conditioned on everything
 * before it), `concat`enated step after step until the model ends the sequence (free: `EOS` right after the
 * `BOS` of a new step), the step limit, or the given steps run out (guided).
 *
 * Caching: both streams run on an interleaved context that keeps ONE growing KV cache of the sequence when the
 * model can cache (showo-core's `ShowoModel`): text tokens are appended to it, each keyframe's MaskGIT steps run
 * the N+2 block against it without appending (a prefix cache), and the finished keyframe is appended before the
 * next text. A model without caches recomputes the whole sequence, as the official code does.
 */
import * as tf from '@tensorflow/tfjs';
import { EMPTY, Observable, concat, concatMap, defer, fromEvent, of, takeUntil } from 'rxjs';
import { InvalidArgumentError } from '@showo/runtime';
import { appendRows, buildOmniMaskFromIds, selectBatch, sliceMask, type AllowMask, type MaskTokenIds } from '@showo/omni-attention';
import type { TextInput, TextTokenizer, UniversalPrompting } from '@showo/prompting';
import type { StopReason, TokenSamplingOptions } from '../autoregressive.js';
import { MASKED } from '../constants.js';
import { InvalidSamplingOptionError, ModelOutputError, PromptBudgetError } from '../errors.js';
import type { MaskGitStepOutput } from '../maskgit.js';
import {
  isCachingModel,
  openImageSession,
  openTextSession,
  type CacheMode,
  type ImageLogitsModel,
  type ImageLogitsSession,
  type ImageModel,
  type ImageSessionInput,
  type TextLogitsModel,
  type TextLogitsSession,
  type TextModel,
  type TextSessionInput,
} from '../sessions.js';
import { generation } from '../stream.js';
import type { CacheHandle, CachingSequenceModel, RgbImage, TokenGrid } from '../types.js';
import { decodeCodes, modelGrid, positionBudget, resolveMaskGitSettings, runMaskGitPass, type ImagePipelineDeps, type MaskGitRequestOptions, type MaskGitSettings, type MaskGitWindow } from './image-common.js';
import { generateTokens, type TextPipelineDeps } from './text.js';

/** Free: the model writes the step texts too; guided: the step texts are given, the keyframes generated. */
export type HowtoMode = 'free' | 'guided';

/** Why a how-to generation ended. */
export type HowtoStopReason = 'guided' | 'end-token' | 'max-steps' | 'budget';

/** What the how-to pipeline is built from: a model serving both MaskGIT and decoding (e.g. `ShowoModel`). */
export type HowtoPipelineDeps = ImagePipelineDeps & TextPipelineDeps;

/** A how-to request. `stepTexts` given: guided mode; absent: free mode. (`steps` is MaskGIT's steps per keyframe.) */
export interface HowtoRequest extends MaskGitRequestOptions {
  /** `how do i build …?` (a string needs the prompting's tokenizer; ids are used as they are). */
  question: TextInput;
  /** Guided mode: the step texts, in order; a keyframe is generated after each. */
  stepTexts?: readonly TextInput[];
  /** Free mode: most steps (default 3, the longest sequence Shapes World has). */
  maxSteps?: number;
  /** Free mode: most tokens of one step text, its `EOS` included (default 24). */
  maxStepTokens?: number;
  /** Free mode: how step tokens are chosen (default greedy). Only text ids can be chosen. */
  text?: TokenSamplingOptions;
  /** Text of the token/text events and the result (default: the prompting's tokenizer). */
  tokenizer?: TextTokenizer;
}

/** Emitted once, before anything runs on the model. */
export interface HowtoStartEvent {
  type: 'start';
  task: 'howto';
  mode: HowtoMode;
  /** Guided: the number of given steps; free: the step limit. */
  plannedSteps: number;
  /** MaskGIT steps per keyframe. */
  denoisingSteps: number;
  grid: TokenGrid;
  /** Whether the growing KV cache is used. */
  cached: boolean;
}

/** A how-to step begins (`step` is 0-based: step 0 is "step 1"). */
export interface HowtoStepStartEvent {
  type: 'step-start';
  task: 'howto';
  step: number;
}

/** Free mode: one token of a step's text. */
export interface HowtoTokenEvent {
  type: 'token';
  task: 'howto';
  step: number;
  /** Index of the token within the step text. */
  index: number;
  token: number;
  /** The step's tokens so far (this one included). */
  tokens: number[];
  /** The step's text so far, when a tokenizer is available. */
  text?: string;
}

/** A step's text is settled (given in guided mode, finished in free mode). */
export interface HowtoTextEvent {
  type: 'text';
  task: 'howto';
  step: number;
  /** The step's text ids, without BOS/EOS. */
  tokens: number[];
  text?: string;
  given: boolean;
  /** Free mode: why decoding stopped (`max-tokens`: `EOS` was appended by the pipeline). */
  stop?: StopReason;
}

/** One MaskGIT step of a keyframe. */
export interface HowtoDenoiseEvent {
  type: 'denoise';
  task: 'howto';
  step: number;
  /** MaskGIT step within the keyframe, 0 … denoisingSteps−1. */
  denoise: number;
  denoisingSteps: number;
  ratio: number;
  maskRatio: number;
  temperature: number;
  /** Current codes on the grid, {@link MASKED} where still masked. */
  tokens: Int32Array;
  /** This step's complete prediction. */
  sampled: Int32Array;
  numMasked: number;
  grid: TokenGrid;
  /** Decoded `sampled`, when previews were asked for. */
  preview?: RgbImage;
}

/** A keyframe is finished. */
export interface HowtoKeyframeEvent {
  type: 'keyframe';
  task: 'howto';
  step: number;
  /** Codes on the grid (every position decided). */
  codes: Int32Array;
  grid: TokenGrid;
  /** Decoded keyframe, when a codec is available and decoding is on. */
  image?: RgbImage;
}

/** One step of the result. */
export interface HowtoStepResult {
  tokens: number[];
  text?: string;
  given: boolean;
  codes: Int32Array;
  image?: RgbImage;
}

/** The result of a how-to generation. */
export interface HowtoResult {
  mode: HowtoMode;
  question?: string;
  steps: HowtoStepResult[];
  stopReason: HowtoStopReason;
  grid: TokenGrid;
  /** The whole interleaved sequence the model read (ids, free mode without the end marker's EOS). */
  sequence: number[];
}

/** Last event of a successful how-to generation. */
export interface HowtoDoneEvent {
  type: 'done';
  task: 'howto';
  result: HowtoResult;
}

/** Events of a how-to stream. */
export type HowtoEvent = HowtoStartEvent | HowtoStepStartEvent | HowtoTokenEvent | HowtoTextEvent | HowtoDenoiseEvent | HowtoKeyframeEvent | HowtoDoneEvent;

/** The result of a how-to stream (resolves on `done`; rejects on error; undefined when cancelled first). */
export function howtoResult(events: Observable<HowtoEvent>): Promise<HowtoResult | undefined> {
  return new Promise((resolve, reject) => {
    let result: HowtoResult | undefined;
    events.subscribe({ next: (e) => e.type === 'done' && (result = e.result), error: reject, complete: () => resolve(result) });
  });
}

const DEFAULT_MAX_STEPS = 3;
const DEFAULT_MAX_STEP_TOKENS = 24;
const NEW_TOKEN = [{ kind: 'text' as const, length: 1 }];
/** What banned logits are set to: far below any real logit, finite so no softmax meets ∞ − ∞. */
const BANNED = -1e9;

// ───────────────────────────── the interleaved context (one growing KV cache) ─────────────────────────────

/** Logits [B, V] of one position out of logits that hold every position or exactly the asked ones. */
function positionsOf(out: tf.Tensor3D, total: number, start: number, length: number): tf.Tensor3D {
  const [b, l, v] = out.shape;
  if (l === length) return out;
  if (l === total) return tf.slice(out, [0, start, 0], [b, length, v]);
  throw new ModelOutputError(`the model returned logits for ${l} positions; expected ${total} (all) or ${length} (the requested range)`);
}

/** Rules for the logits of a step text: only text ids; optionally not `EOS` first (a step is never empty). */
interface TextPolicy {
  textVocab: number;
  banFirst?: number;
}

/** Adds the policy's bans to last-position logits [1, V] (disposing the input). */
function applyPolicy(logits: tf.Tensor2D, policy: TextPolicy, index: number): tf.Tensor2D {
  const v = logits.shape[1];
  const bias = new Float32Array(v);
  for (let j = Math.min(policy.textVocab, v); j < v; j++) bias[j] = BANNED;
  if (index === 0 && policy.banFirst !== undefined && policy.banFirst < v) bias[policy.banFirst] = BANNED;
  try {
    return tf.tidy(() => tf.add(logits, tf.tensor2d(bias, [1, v])));
  } finally {
    logits.dispose();
  }
}

/**
 * The sequence so far, as the model has seen it: one KV cache (batch 1) holding `committed` ids. Sessions opened
 * on it bring the whole sequence; only the part not yet cached is run (and then cached). A session whose
 * sequence diverges from the cache starts the cache over (correct, just slower).
 */
class InterleavedCache {
  private kv: CacheHandle | undefined;
  private committed: number[] = [];
  private closed = false;

  constructor(private readonly model: CachingSequenceModel) {}

  get length(): number {
    return this.committed.length;
  }

  /** Caches ids[0 … length) (mask `allow`, batch 1, square ≥ length); returns the last position's logits when asked. */
  sync(ids: ArrayLike<number>, length: number, allow: AllowMask, wantLogits: boolean): tf.Tensor2D | undefined {
    if (this.closed) throw new InvalidArgumentError('the how-to context was disposed');
    let c = this.committed.length;
    let same = c <= length;
    for (let i = 0; same && i < c; i++) same = this.committed[i] === ids[i];
    // The last position's logits come from running it: when it is already cached, start over.
    if (!same || (wantLogits && c === length)) this.reset();
    c = this.committed.length;
    if (c === length) return undefined;
    this.kv ??= this.model.emptyCache(1);
    const delta = Int32Array.from({ length: length - c }, (_, i) => ids[c + i]!);
    const rows = sliceMask(allow, { queries: [c, length], keys: [0, length] });
    const t = tf.tensor2d(delta, [1, delta.length], 'int32');
    let out: tf.Tensor3D;
    try {
      // Not inside tf.tidy: the cache's new keys/values are made here and must outlive the call.
      out = this.model.forwardWithCache(t, rows, this.kv, { append: true, logits: 'last' });
    } finally {
      t.dispose();
    }
    for (const id of delta) this.committed.push(id);
    try {
      return wantLogits ? tf.tidy(() => positionsOf(out, delta.length, delta.length - 1, 1).reshape([1, -1]) as tf.Tensor2D) : undefined;
    } finally {
      out.dispose();
    }
  }

  /** Appends one token (mask row `row` [1, 1, length+1]) and returns its logits [1, V]. */
  append(token: number, row: AllowMask): tf.Tensor2D {
    if (this.closed || !this.kv) throw new InvalidArgumentError('the how-to context was disposed or never filled');
    const t = tf.tensor2d([token], [1, 1], 'int32');
    let out: tf.Tensor3D;
    try {
      out = this.model.forwardWithCache(t, row, this.kv, { append: true, logits: 'last' });
    } finally {
      t.dispose();
    }
    this.committed.push(token);
    try {
      return tf.tidy(() => positionsOf(out, 1, 0, 1).reshape([1, -1]) as tf.Tensor2D);
    } finally {
      out.dispose();
    }
  }

  /** Logits [1, N, V] of a block [1, N+2] (`<|soi|>` … `<|eoi|>`) against the cache, which stays unchanged. */
  blockLogits(block: Int32Array, rows: AllowMask, n: number): tf.Tensor3D {
    if (this.closed || !this.kv) throw new InvalidArgumentError('the how-to context was disposed or never filled');
    const out = this.model.forwardWithCache(tf.tensor2d(block, [1, n + 2], 'int32'), rows, this.kv, { append: false, logits: { start: 1, length: n } });
    return positionsOf(out, n + 2, 1, n);
  }

  private reset(): void {
    this.kv?.dispose();
    this.kv = undefined;
    this.committed = [];
  }

  dispose(): void {
    this.closed = true;
    this.reset();
  }
}

/**
 * The model the how-to streams run on: opens text and image sessions on the growing cache (when the model can
 * cache and `cache` is `auto`), else the sampler's own sessions (full recomputation, or the model's own).
 */
class HowtoContext implements ImageLogitsModel {
  private readonly cache: InterleavedCache | undefined;

  constructor(
    private readonly model: ImageModel & TextModel,
    mode: CacheMode,
  ) {
    const own = 'openImageSession' in model || 'openTextSession' in model;
    this.cache = mode === 'auto' && !own && isCachingModel(model) ? new InterleavedCache(model) : undefined;
  }

  get cached(): boolean {
    return this.cache !== undefined;
  }

  /** A text model whose sessions follow `policy`. */
  textModel(policy: TextPolicy): TextLogitsModel {
    return { openTextSession: (input) => this.openTextSession(input, policy) };
  }

  private openTextSession(input: TextSessionInput, policy: TextPolicy): TextLogitsSession {
    if (input.rows !== 1) throw new InvalidArgumentError(`how-to decoding runs one sequence, got ${input.rows} rows`);
    let index = 0;
    const cache = this.cache;
    if (!cache) {
      const inner = openTextSession(this.model, input, 'none');
      return {
        cached: false,
        start: () => applyPolicy(inner.start(), policy, index++),
        append: (tokens) => applyPolicy(inner.append(tokens), policy, index++),
        dispose: () => inner.dispose(),
      };
    }
    // The mask row of the newest position over every key so far; a new text token sees what it saw, and itself.
    let last = sliceMask(input.allow, { queries: [input.length - 1, input.length] });
    return {
      cached: true,
      start: () => applyPolicy(cache.sync(input.ids, input.length, input.allow, true)!, policy, index++),
      append: (tokens) => {
        last = appendRows(last, NEW_TOKEN, { contextRow: 0 });
        return applyPolicy(cache.append(tokens[0]!, last), policy, index++);
      },
      dispose: () => undefined, // the cache belongs to the context
    };
  }

  openImageSession(input: ImageSessionInput): ImageLogitsSession {
    const cache = this.cache;
    if (!cache) return openImageSession(this.model, input, 'none');
    const { rows, prefixLength: p, numImageTokens: n, prefixIds, allow } = input;
    if (rows !== 1 && rows !== 2) throw new InvalidArgumentError(`how-to keyframes run one sequence (and its unconditional row), got ${rows} rows`);
    const l = p + n + 2;
    const cond = selectBatch(allow, [0]);
    cache.sync(prefixIds.subarray(0, p), p, cond, false);
    const condRows = sliceMask(cond, { queries: [p, l] });
    // Classifier-free guidance: the unconditional prefix (an empty t2i prompt) gets a prefix cache of its own.
    let uncond: { cache: CacheHandle; rows: AllowMask } | undefined;
    if (rows === 2) {
      const un = selectBatch(allow, [1]);
      const ids = tf.tensor2d(prefixIds.subarray(p, 2 * p), [1, p], 'int32');
      try {
        const m = this.model as CachingSequenceModel;
        uncond = { cache: m.prefill(ids, sliceMask(un, { queries: [0, p], keys: [0, p] })), rows: sliceMask(un, { queries: [p, l] }) };
      } finally {
        ids.dispose();
      }
    }
    const model = this.model as CachingSequenceModel;
    return {
      cached: true,
      imageLogits: (block) =>
        tf.tidy(() => {
          const c = cache.blockLogits(block.subarray(0, n + 2), condRows, n);
          if (!uncond) return c;
          const out = model.forwardWithCache(tf.tensor2d(block.subarray(n + 2, 2 * (n + 2)), [1, n + 2], 'int32'), uncond.rows, uncond.cache, {
            append: false,
            logits: { start: 1, length: n },
          });
          return tf.concat([c, positionsOf(out, n + 2, 1, n)], 0);
        }),
      dispose: () => uncond?.cache.dispose(),
    };
  }

  dispose(): void {
    this.cache?.dispose();
  }
}

// ───────────────────────────── the sequence being written ─────────────────────────────

/** The interleaved sequence (ids) plus what the result reports. */
class HowtoSequence {
  readonly ids: number[] = [];
  readonly steps: HowtoStepResult[] = [];
  ended = false;
  constructor(readonly tokens: MaskTokenIds) {}

  /** A decoding input over the whole sequence (mask: general omni-attention, pads isolated). */
  textInput(): TextSessionInput {
    const ids = Int32Array.from(this.ids);
    return { ids, rows: 1, length: ids.length, allow: buildOmniMaskFromIds([ids], this.tokens, { pad: 'isolate' }) };
  }
}

// ───────────────────────────── the pipeline ─────────────────────────────

/**
 * How-to generation as a cold stream of {@link HowtoEvent}s (see the file notes). Validates synchronously
 * (typed errors, before any tensor exists). Unsubscribing or aborting `request.signal` stops within one token or
 * denoising step and frees every tensor, the context's caches included.
 *
 * ```ts
 * howto(deps, { question: 'how do i build a red circle?', steps: 18 })              // free mode
 * howto(deps, { question, stepTexts: ['step 1: place a red circle on the left.'] })  // guided mode
 * ```
 */
export function howto(deps: HowtoPipelineDeps, request: HowtoRequest): Observable<HowtoEvent> {
  const p: UniversalPrompting = deps.prompting;
  const L = p.layout;
  const settings = resolveMaskGitSettings(deps, request);
  const grid = modelGrid(deps);
  const n = p.numVqTokens;
  const tokenizer = request.tokenizer ?? p.tokenizer;
  const guided = request.stepTexts !== undefined;
  const mode: HowtoMode = guided ? 'guided' : 'free';
  const strict = !(request.truncatePrompts ?? false);
  const soi = L.special('<|soi|>');
  const eoi = L.special('<|eoi|>');
  const t2i = L.special('<|t2i|>');
  const maskIds: MaskTokenIds = { padId: L.padId, soiId: soi, eoiId: eoi };
  const question = p.encodeTexts([request.question])[0]!;
  if (question.length === 0) throw new InvalidArgumentError('the how-to question is empty');
  const given = guided ? p.encodeTexts(request.stepTexts!) : [];
  if (guided && given.length === 0) throw new InvalidArgumentError('guided how-to needs at least one step text');
  given.forEach((s, k) => {
    if (s.length === 0) throw new InvalidArgumentError(`guided how-to step ${k + 1} has an empty text`);
  });
  const maxSteps = guided ? given.length : (request.maxSteps ?? DEFAULT_MAX_STEPS);
  if (!Number.isInteger(maxSteps) || maxSteps < 1) throw new InvalidSamplingOptionError('maxSteps', maxSteps, 'an integer ≥ 1');
  const maxStepTokens = request.maxStepTokens ?? DEFAULT_MAX_STEP_TOKENS;
  if (!Number.isInteger(maxStepTokens) || maxStepTokens < 1) throw new InvalidSamplingOptionError('maxStepTokens', maxStepTokens, 'an integer ≥ 1');
  const textOptions: TokenSamplingOptions = request.text ?? { greedy: true };
  const budget = positionBudget(deps);
  const mtl = p.maxTextLen;
  const block = n + 2;

  // The first text block (question + step 1): guided as training builds it (left-padded to max_text_len);
  // free mode starts from `<|t2i|> BOS question` and lets the model write step 1 inside the same block.
  let firstBlock: number[];
  let firstStepBudget = 0;
  if (guided) {
    const masks = new Array<number>(n).fill(L.maskId);
    firstBlock = p.t2iGen({ texts: [[...question, ...given[0]!]], imageIds: [masks] }, { strict }).inputIds[0]!.slice(0, mtl);
    const total = mtl + given.length * block + given.slice(1).reduce((s, t) => s + (t[0] === L.bosId ? 1 : 2) + t.length, 0);
    if (total > budget) throw new PromptBudgetError(0, total, budget, 'how-to sequence (question, steps and keyframes)');
  } else {
    firstBlock = [t2i, ...(question[0] === L.bosId ? [] : [L.bosId]), ...question];
    firstStepBudget = Math.min(maxStepTokens, mtl - firstBlock.length);
    if (firstStepBudget < 2) throw new PromptBudgetError(0, firstBlock.length + 2, mtl, 'how-to question (leaves no room for step 1 in the text block)');
    if (firstBlock.length + firstStepBudget + block > budget) throw new PromptBudgetError(0, firstBlock.length + firstStepBudget + block, budget, 'how-to sequence');
  }
  const decode = (ids: number[]): string | undefined => tokenizer?.decode(ids.filter((t) => t < tokenizer.vocabSize), { skipSpecialTokens: true });
  const questionText = typeof request.question === 'string' ? request.question : decode(question);

  const source = new Observable<HowtoEvent>((subscriber) => {
    const context = new HowtoContext(deps.model, deps.cache ?? 'auto');
    const seq = new HowtoSequence(maskIds);
    const imageDeps: ImagePipelineDeps = { ...deps, model: context };
    const done = (stopReason: HowtoStopReason): HowtoEvent => ({
      type: 'done',
      task: 'howto',
      result: { mode, ...(questionText !== undefined ? { question: questionText } : {}), steps: seq.steps, stopReason, grid, sequence: [...seq.ids] },
    });

    /** Guided mode: the given text of step k joins the sequence. */
    const givenText$ = (k: number): Observable<HowtoEvent> =>
      defer(() => {
        const text = given[k]!;
        if (k === 0) seq.ids.push(...firstBlock);
        else seq.ids.push(...(text[0] === L.bosId ? [] : [L.bosId]), ...text, L.eosId);
        const t = decode(text);
        seq.steps.push({ tokens: [...text], ...(t !== undefined ? { text: t } : {}), given: true, codes: new Int32Array(0) });
        return of<HowtoEvent>({ type: 'text', task: 'howto', step: k, tokens: [...text], ...(t !== undefined ? { text: t } : {}), given: true });
      });

    /** Free mode: the model writes step k (the sampler's decoding stream on the shared context). */
    const freeText$ = (k: number): Observable<HowtoEvent> =>
      defer(() => {
        if (k === 0) seq.ids.push(...firstBlock);
        else seq.ids.push(L.bosId);
        const maxNewTokens = k === 0 ? firstStepBudget : maxStepTokens;
        const policy: TextPolicy = { textVocab: L.llmVocabSize, ...(k === 0 ? { banFirst: L.eosId } : {}) };
        const textDeps = { model: context.textModel(policy), prompting: p, maxPositions: budget };
        const input = seq.textInput();
        return generateTokens(textDeps, { ...textOptions, input, maxNewTokens, stopIds: [L.eosId], uniforms: settings.uniforms, ...(tokenizer ? { tokenizer } : {}) }).pipe(
          concatMap((e): HowtoEvent[] => {
            if (e.type === 'token') {
              if (e.stop === 'stop-token') return []; // the EOS that ends the step is not part of its text
              return [{ type: 'token', task: 'howto', step: k, index: e.tokens.length - 1, token: e.token, tokens: [...e.tokens], ...(e.text !== undefined ? { text: e.text } : {}) }];
            }
            if (e.type !== 'done') return [];
            const out = e.result.tokens[0]!;
            const stop = e.result.stopReasons[0]!;
            const text = stop === 'stop-token' ? out.slice(0, -1) : out;
            if (k > 0 && text.length === 0) {
              seq.ended = true; // `BOS EOS`: the model ended the how-to
              seq.ids.push(L.eosId);
              return [];
            }
            seq.ids.push(...text, L.eosId);
            const t = decode(text);
            seq.steps.push({ tokens: text, ...(t !== undefined ? { text: t } : {}), given: false, codes: new Int32Array(0) });
            return [{ type: 'text', task: 'howto', step: k, tokens: [...text], ...(t !== undefined ? { text: t } : {}), given: false, stop }];
          }),
        );
      });

    /** The keyframe of step k: one MaskGIT pass over `<|soi|> [MASK]×N <|eoi|>` after the sequence so far. */
    const keyframe$ = (k: number): Observable<HowtoEvent> =>
      generation<HowtoEvent>(async (ctx) => {
        const window = keyframeWindow(p, seq.ids, settings.guidance, maskIds, t2i);
        const initial = new Int32Array(n).fill(MASKED);
        const out = await runMaskGitPass(ctx, imageDeps, settings, window, settings.scheduler.initialState(initial, 1), async (o: MaskGitStepOutput) => {
          ctx.emit(await denoiseEvent(imageDeps, settings, k, o, grid));
        });
        const codes = out.sampled.slice();
        seq.ids.push(soi, ...Array.from(codes, (c) => c + L.imageOffset), eoi);
        seq.steps[k]!.codes = codes;
        const image = settings.decode ? (await decodeCodes(imageDeps, [codes], grid))?.[0] : undefined;
        if (image) seq.steps[k]!.image = image;
        ctx.emit({ type: 'keyframe', task: 'howto', step: k, codes: codes.slice(), grid, ...(image ? { image } : {}) });
      });

    const step$ = (k: number): Observable<HowtoEvent> =>
      defer(() => {
        if (k === maxSteps) return of(done(guided ? 'guided' : 'max-steps'));
        // Free mode: the next step's text, its EOS, and its keyframe must fit the position budget.
        if (!guided && k > 0 && seq.ids.length + 1 + maxStepTokens + block > budget) return of(done('budget'));
        return concat(
          of<HowtoEvent>({ type: 'step-start', task: 'howto', step: k }),
          guided ? givenText$(k) : freeText$(k),
          defer(() => (seq.ended ? of(done('end-token')) : concat(keyframe$(k), step$(k + 1)))),
        );
      });

    const start: HowtoEvent = {
      type: 'start',
      task: 'howto',
      mode,
      plannedSteps: maxSteps,
      denoisingSteps: settings.scheduler.steps,
      grid,
      cached: context.cached,
    };
    const inner = (request.signal?.aborted ? EMPTY : concat(of(start), step$(0))).subscribe(subscriber);
    return () => {
      inner.unsubscribe();
      context.dispose();
    };
  });
  const signal = request.signal;
  return signal ? source.pipe(takeUntil(fromEvent(signal, 'abort'))) : source;
}

/**
 * The MaskGIT window of the next keyframe: row 0 the sequence so far plus the masked block; with guidance a
 * second row, the empty t2i prompt `<|t2i|> BOS EOS` left-padded to the same length (isolated pads change
 * nothing) plus the same block — the unconditional input t2i training learns through caption dropout.
 */
function keyframeWindow(p: UniversalPrompting, prefix: readonly number[], guidance: number, tokens: MaskTokenIds, t2i: number): MaskGitWindow {
  const L = p.layout;
  const n = p.numVqTokens;
  const len = prefix.length;
  const blockIds = [tokens.soiId, ...new Array<number>(n).fill(L.maskId), tokens.eoiId];
  const rows: number[][] = [[...prefix, ...blockIds]];
  if (guidance > 0) {
    const uncond = [t2i, L.bosId, L.eosId];
    rows.push([...new Array<number>(len - uncond.length).fill(L.padId), ...uncond, ...blockIds]);
  }
  const prefixIds = new Int32Array(rows.length * len);
  rows.forEach((r, i) => prefixIds.set(r.slice(0, len), i * len));
  const allow = buildOmniMaskFromIds(rows, tokens, { pad: 'isolate' });
  return { batch: 1, input: { prefixIds, rows: rows.length, prefixLength: len, numImageTokens: n, allow } };
}

async function denoiseEvent(deps: ImagePipelineDeps, settings: MaskGitSettings, step: number, o: MaskGitStepOutput, grid: TokenGrid): Promise<HowtoDenoiseEvent> {
  const tokens = o.state.codes.slice();
  const event: HowtoDenoiseEvent = {
    type: 'denoise',
    task: 'howto',
    step,
    denoise: o.step,
    denoisingSteps: settings.scheduler.steps,
    ratio: o.ratio,
    maskRatio: o.maskRatio,
    temperature: o.temperature,
    tokens,
    sampled: o.sampled.slice(),
    numMasked: o.numMasked[0]!,
    grid,
  };
  if (settings.previewEvery && ((o.step + 1) % settings.previewEvery === 0 || o.done)) {
    const preview = await decodeCodes(deps, [o.sampled.slice()], grid);
    if (preview) event.preview = preview[0]!;
  }
  return event;
}

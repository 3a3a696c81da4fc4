/**
 * Autoregressive token selection (the text side of Show-o, `Showo.mmu_generate`), as a pure scheduler: given the
 * logits of the last position of every row, pick the next token. Exactly the official rule, in float32:
 *
 * ```
 * logits = logits / temperature
 * top-k:  logits[logits < k-th largest] = −∞        (ties with the k-th largest survive, as in the official code)
 * probs  = softmax(logits) ; token = first j with cumsum(probs)[j] > u
 * ```
 *
 * Extensions over the official batch-1 path: batches (each row stops on its own), top-p (nucleus: the smallest
 * set of most likely tokens whose mass reaches p, then renormalised), greedy decoding (`greedy: true` or
 * temperature 0: argmax, no uniform drawn), several stop ids.
 */
import type { UniformSource } from '@showo/runtime';
import { AUTOREGRESSIVE_DEFAULTS } from './constants.js';
import { InvalidSamplingOptionError, ModelOutputError } from './errors.js';
import { argmax, sampleInverseCdf, softmaxRow } from './float32.js';

const f32 = Math.fround;

/** How a token is chosen from a row of logits. */
export interface TokenSamplingOptions {
  /** Divides the logits (default 1.0). 0 means greedy. */
  temperature?: number;
  /** Keep only the k most likely tokens (official `top_k`; 1 = greedy-equivalent but still draws a uniform). */
  topK?: number;
  /** Nucleus sampling: keep the most likely tokens until their probability mass reaches `topP` ∈ (0, 1]. */
  topP?: number;
  /** Take the argmax (no uniform is drawn). */
  greedy?: boolean;
}

/** Options of {@link AutoregressiveSampler}. */
export interface AutoregressiveSamplerOptions extends TokenSamplingOptions {
  /** Maximum tokens generated per row (default 100, the official default). */
  maxNewTokens?: number;
  /** Tokens that end a row; the stop token is kept in the output, as the official loop keeps `<|eot|>`. */
  stopIds?: readonly number[];
}

/** Throws the typed error for invalid token-sampling options. */
export function validateTokenSampling(o: AutoregressiveSamplerOptions): void {
  const t = o.temperature ?? AUTOREGRESSIVE_DEFAULTS.temperature;
  if (!(typeof t === 'number' && t >= 0 && Number.isFinite(t))) throw new InvalidSamplingOptionError('temperature', t, 'a finite number ≥ 0');
  if (o.topK !== undefined && o.topK !== null && !(Number.isInteger(o.topK) && o.topK >= 1)) {
    throw new InvalidSamplingOptionError('topK', o.topK, 'an integer ≥ 1');
  }
  if (o.topP !== undefined && !(typeof o.topP === 'number' && o.topP > 0 && o.topP <= 1)) throw new InvalidSamplingOptionError('topP', o.topP, 'in (0, 1]');
  const m = o.maxNewTokens ?? AUTOREGRESSIVE_DEFAULTS.maxNewTokens;
  if (!(Number.isInteger(m) && m >= 1)) throw new InvalidSamplingOptionError('maxNewTokens', m, 'an integer ≥ 1');
  for (const id of o.stopIds ?? []) if (!Number.isInteger(id) || id < 0) throw new InvalidSamplingOptionError('stopIds', id, 'non-negative integers');
}

/** Whether these options pick the argmax without drawing. */
export function isGreedy(o: TokenSamplingOptions): boolean {
  return o.greedy === true || o.temperature === 0;
}

/**
 * The distribution a row is sampled from, after temperature, top-k and top-p (float32, −∞ → 0). `out` [V].
 */
export function tokenDistribution(logits: ArrayLike<number>, offset: number, vocab: number, o: TokenSamplingOptions, out = new Float32Array(vocab)): Float32Array {
  const t = f32(o.temperature ?? AUTOREGRESSIVE_DEFAULTS.temperature);
  const scaled = new Float32Array(vocab);
  for (let j = 0; j < vocab; j++) scaled[j] = f32(logits[offset + j] / t);
  if (o.topK !== undefined && o.topK !== null && o.topK < vocab) {
    const kth = Float32Array.from(scaled).sort()[vocab - o.topK];
    for (let j = 0; j < vocab; j++) if (scaled[j] < kth) scaled[j] = -Infinity;
  }
  softmaxRow(scaled, 0, vocab, out);
  if (o.topP !== undefined && o.topP < 1) {
    const order = Array.from({ length: vocab }, (_, j) => j).sort((a, b) => out[b] - out[a] || a - b);
    const keep = new Uint8Array(vocab);
    let mass = 0;
    for (const j of order) {
      keep[j] = 1;
      mass = f32(mass + out[j]);
      if (mass >= o.topP) break;
    }
    for (let j = 0; j < vocab; j++) if (!keep[j]) scaled[j] = -Infinity;
    softmaxRow(scaled, 0, vocab, out);
  }
  return out;
}

/**
 * The token for one row of logits. `u` is the row's uniform (ignored when greedy).
 */
export function selectToken(logits: ArrayLike<number>, offset: number, vocab: number, o: TokenSamplingOptions, u: number): number {
  if (isGreedy(o)) return argmax(logits, offset, vocab);
  return sampleInverseCdf(tokenDistribution(logits, offset, vocab, o), 0, vocab, u);
}

/** Where a batch of autoregressive generations stands. */
export interface AutoregressiveState {
  readonly batch: number;
  /** Tokens generated so far, per row. */
  readonly tokens: readonly (readonly number[])[];
  /** 1 for rows that stopped (stop id or max tokens). */
  readonly finished: Uint8Array;
  readonly step: number;
}

/** What one autoregressive step chose. */
export interface AutoregressiveStepOutput {
  step: number;
  /** The new token of every row, or −1 for a row that had already finished [batch]. */
  tokens: Int32Array;
  state: AutoregressiveState;
  /** True when every row has finished. */
  done: boolean;
}

/** Why a row stopped. */
export type StopReason = 'stop-token' | 'max-tokens';

/** The autoregressive sampler: a pure object, no network inside. */
export class AutoregressiveSampler {
  readonly options: Readonly<AutoregressiveSamplerOptions>;
  readonly maxNewTokens: number;
  private readonly stop: Set<number>;

  constructor(options: AutoregressiveSamplerOptions = {}) {
    validateTokenSampling(options);
    this.options = { ...options };
    this.maxNewTokens = options.maxNewTokens ?? AUTOREGRESSIVE_DEFAULTS.maxNewTokens;
    this.stop = new Set(options.stopIds ?? []);
  }

  initialState(batch: number): AutoregressiveState {
    if (!Number.isInteger(batch) || batch < 1) throw new InvalidSamplingOptionError('batch', batch, 'an integer ≥ 1');
    return { batch, tokens: Array.from({ length: batch }, () => []), finished: new Uint8Array(batch), step: 0 };
  }

  /** Why row `b` stopped, if it did. */
  stopReason(state: AutoregressiveState, b: number): StopReason | undefined {
    if (!state.finished[b]) return undefined;
    const t = state.tokens[b];
    return t.length > 0 && this.stop.has(t[t.length - 1]) ? 'stop-token' : 'max-tokens';
  }

  /**
   * One step. `logits` [batch, V] are the last-position logits of every row. One uniform is drawn per row still
   * running, in row order (none when greedy); finished rows draw nothing, so a batch of one consumes exactly the
   * official sequence.
   */
  step(logits: Float32Array, state: AutoregressiveState, uniforms: UniformSource): AutoregressiveStepOutput {
    const { batch } = state;
    if (logits.length % batch !== 0) throw new ModelOutputError(`logits hold ${logits.length} values, not a multiple of the batch ${batch}`);
    const vocab = logits.length / batch;
    const tokens = new Int32Array(batch).fill(-1);
    const finished = Uint8Array.from(state.finished);
    const out = state.tokens.map((t) => [...t]);
    const greedy = isGreedy(this.options);
    for (let b = 0; b < batch; b++) {
      if (finished[b]) continue;
      const u = greedy ? 0 : uniforms.next();
      const token = selectToken(logits, b * vocab, vocab, this.options, u);
      tokens[b] = token;
      out[b].push(token);
      if (this.stop.has(token) || out[b].length >= this.maxNewTokens) finished[b] = 1;
    }
    const done = finished.every((f) => f === 1);
    return { step: state.step, tokens, state: { batch, tokens: out, finished, step: state.step + 1 }, done };
  }
}

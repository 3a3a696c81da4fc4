/**
 * Beam search as a pure scheduler, the deterministic alternative to {@link AutoregressiveSampler} for short
 * answers: greedy decoding commits to the likeliest first token, beam search keeps the `numBeams` likeliest
 * partial sequences and returns the likeliest finished one.
 *
 * Layout: B prompts, each decoded by `numBeams` rows, so the session holds `B·numBeams` rows (prompt b owns rows
 * `b·numBeams … b·numBeams + numBeams − 1`). After every step the caller reorders its session rows by
 * {@link BeamStepOutput.sources} and appends {@link BeamStepOutput.tokens}.
 *
 * Scores are sums of natural-log probabilities (float64). A hypothesis that ends (a stop id, or `maxNewTokens`) is
 * ranked by `score / length^lengthPenalty`, with the stop token counted in the length; `lengthPenalty` 0 ranks by
 * the raw sum (which favours short answers), 1 (the default) by the mean log-probability per token. As in the
 * usual formulation, a prompt is done once it holds `numBeams` finished hypotheses and no running beam, divided by
 * the current length, can still beat the worst of them.
 */
import { InvalidSamplingOptionError, ModelOutputError } from './errors.js';
import { AUTOREGRESSIVE_DEFAULTS } from './constants.js';
import type { StopReason } from './autoregressive.js';

/** Options of {@link BeamSearch}. */
export interface BeamSearchOptions {
  /** Beams per prompt (≥ 1). */
  numBeams: number;
  /** Maximum tokens per hypothesis (default 100, as for sampling). */
  maxNewTokens?: number;
  /** Tokens that end a hypothesis; kept in its tokens, as the sampler keeps them. */
  stopIds?: readonly number[];
  /** Exponent of the length normalisation of finished hypotheses (default 1). */
  lengthPenalty?: number;
}

/** A partial or finished answer of one prompt. */
export interface BeamHypothesis {
  readonly tokens: readonly number[];
  /** Sum of log-probabilities. */
  readonly logProb: number;
}

/** A finished answer with its rank (`logProb / length^lengthPenalty`) and why it ended. */
export interface FinishedHypothesis extends BeamHypothesis {
  readonly rank: number;
  readonly stop: StopReason;
}

/** Where one prompt's search stands. */
export interface PromptBeams {
  /** Running beams, best first (`numBeams` of them until the prompt is done). */
  readonly running: readonly BeamHypothesis[];
  /** Finished hypotheses, best first (at most `numBeams`). */
  readonly finished: readonly FinishedHypothesis[];
  readonly done: boolean;
}

/** The whole search: one entry per prompt. */
export interface BeamState {
  readonly prompts: readonly PromptBeams[];
  readonly numBeams: number;
  readonly step: number;
}

/** What one step decided. */
export interface BeamStepOutput {
  state: BeamState;
  /** For every session row, the row it continues from [B·numBeams]. */
  sources: number[];
  /** The token to append to every row after reordering [B·numBeams] (the filler for rows of finished prompts). */
  tokens: Int32Array;
  /** True when every prompt is done. */
  done: boolean;
}

/** The best hypothesis of each prompt. */
export interface BeamResult {
  tokens: number[][];
  /** Sum of log-probabilities of each returned hypothesis (stop token included). */
  logProbs: number[];
  stopReasons: StopReason[];
}

function logSoftmax(logits: ArrayLike<number>, offset: number, vocab: number, out: Float64Array): void {
  let max = -Infinity;
  for (let j = 0; j < vocab; j++) max = Math.max(max, logits[offset + j]!);
  if (!Number.isFinite(max)) throw new ModelOutputError(`a row of logits has no finite value (max ${max})`);
  let sum = 0;
  for (let j = 0; j < vocab; j++) sum += Math.exp(logits[offset + j]! - max);
  const log = max + Math.log(sum);
  for (let j = 0; j < vocab; j++) out[j] = logits[offset + j]! - log;
}

/** Indices of the `k` largest values (ties: lower index first), largest first. */
function topIndices(values: Float64Array, k: number): number[] {
  const best: number[] = [];
  for (let j = 0; j < values.length; j++) {
    const v = values[j]!;
    if (best.length === k && v <= values[best[k - 1]!]!) continue;
    let at = best.length;
    while (at > 0 && values[best[at - 1]!]! < v) at--;
    best.splice(at, 0, j);
    if (best.length > k) best.pop();
  }
  return best;
}

/** Beam search over batches of prompts: a pure object, no model inside. */
export class BeamSearch {
  readonly numBeams: number;
  readonly maxNewTokens: number;
  readonly lengthPenalty: number;
  private readonly stop: Set<number>;

  constructor(options: BeamSearchOptions) {
    const k = options.numBeams;
    if (!(Number.isInteger(k) && k >= 1)) throw new InvalidSamplingOptionError('numBeams', k, 'an integer ≥ 1');
    const m = options.maxNewTokens ?? AUTOREGRESSIVE_DEFAULTS.maxNewTokens;
    if (!(Number.isInteger(m) && m >= 1)) throw new InvalidSamplingOptionError('maxNewTokens', m, 'an integer ≥ 1');
    const lp = options.lengthPenalty ?? 1;
    if (!(typeof lp === 'number' && Number.isFinite(lp))) throw new InvalidSamplingOptionError('lengthPenalty', lp, 'a finite number');
    for (const id of options.stopIds ?? []) if (!Number.isInteger(id) || id < 0) throw new InvalidSamplingOptionError('stopIds', id, 'non-negative integers');
    this.numBeams = k;
    this.maxNewTokens = m;
    this.lengthPenalty = lp;
    this.stop = new Set(options.stopIds ?? []);
  }

  /** Session rows needed for `prompts` prompts. */
  rows(prompts: number): number {
    return prompts * this.numBeams;
  }

  initialState(prompts: number): BeamState {
    if (!Number.isInteger(prompts) || prompts < 1) throw new InvalidSamplingOptionError('batch', prompts, 'an integer ≥ 1');
    // One running beam until the first step: the numBeams rows of a prompt are identical at the start.
    const start: PromptBeams = { running: [{ tokens: [], logProb: 0 }], finished: [], done: false };
    return { prompts: Array.from({ length: prompts }, () => start), numBeams: this.numBeams, step: 0 };
  }

  private rank(logProb: number, length: number): number {
    return logProb / Math.pow(length, this.lengthPenalty);
  }

  /**
   * One step. `logits` [B·numBeams, V] are the last-position logits of every session row; `filler` is appended to
   * rows whose prompt is done (their logits are ignored).
   */
  step(logits: Float32Array, state: BeamState, filler: number): BeamStepOutput {
    const k = this.numBeams;
    const rows = state.prompts.length * k;
    if (logits.length % rows !== 0 || logits.length === 0) throw new ModelOutputError(`logits hold ${logits.length} values, not a multiple of the ${rows} beam rows`);
    const vocab = logits.length / rows;
    const sources: number[] = [];
    const tokens = new Int32Array(rows).fill(filler);
    const logp = new Float64Array(vocab);
    const prompts = state.prompts.map((p, b): PromptBeams => {
      const base = b * k;
      if (p.done) {
        for (let i = 0; i < k; i++) sources.push(base + i);
        return p;
      }
      // Candidates: the 2k best continuations of every running beam, merged (2k guarantees k survivors that do not stop).
      const candidates: { beam: number; token: number; logProb: number }[] = [];
      p.running.forEach((beam, i) => {
        logSoftmax(logits, (base + i) * vocab, vocab, logp);
        for (const token of topIndices(logp, Math.min(2 * k, vocab))) candidates.push({ beam: i, token, logProb: beam.logProb + logp[token]! });
      });
      candidates.sort((x, y) => y.logProb - x.logProb || x.beam - y.beam || x.token - y.token);
      const length = state.step + 1;
      const finished = [...p.finished];
      const running: BeamHypothesis[] = [];
      const from: number[] = [];
      const finish = (h: BeamHypothesis, stop: StopReason): void => {
        finished.push({ ...h, rank: this.rank(h.logProb, h.tokens.length), stop });
        finished.sort((x, y) => y.rank - x.rank);
        if (finished.length > k) finished.pop();
      };
      for (const [n, c] of candidates.entries()) {
        if (running.length === k) break;
        const h = { tokens: [...p.running[c.beam]!.tokens, c.token], logProb: c.logProb };
        if (this.stop.has(c.token)) {
          // A stopping candidate counts only if it is among the k best of this step.
          if (n < k) finish(h, 'stop-token');
          continue;
        }
        running.push(h);
        from.push(c.beam);
      }
      if (running.length === 0) throw new ModelOutputError(`beam search found no continuation for prompt ${b} (vocabulary ${vocab})`);
      let done = false;
      if (length >= this.maxNewTokens) {
        for (const h of running) finish(h, 'max-tokens');
        done = true;
      } else if (finished.length === k) {
        const bestRunning = running[0]!.logProb / Math.pow(length, this.lengthPenalty);
        done = finished[k - 1]!.rank >= bestRunning;
      }
      for (let i = 0; i < k; i++) {
        const j = Math.min(i, running.length - 1);
        sources.push(base + (done ? i : from[j]!));
        if (!done) tokens[base + i] = running[j]!.tokens[length - 1]!;
      }
      return { running: done ? [] : running, finished, done };
    });
    const next: BeamState = { prompts, numBeams: k, step: state.step + 1 };
    return { state: next, sources, tokens, done: prompts.every((p) => p.done) };
  }

  /** The best hypothesis of each prompt so far: its best finished one, else its best running beam. */
  best(state: BeamState): BeamResult {
    const out: BeamResult = { tokens: [], logProbs: [], stopReasons: [] };
    for (const p of state.prompts) {
      const f = p.finished[0];
      const r = p.running[0];
      const pick = f ?? r;
      out.tokens.push([...(pick?.tokens ?? [])]);
      out.logProbs.push(pick?.logProb ?? 0);
      out.stopReasons.push(f ? f.stop : 'max-tokens');
    }
    return out;
  }

  /** The best running beam of each prompt (its best finished one once done): what a live view should show. */
  current(state: BeamState): number[][] {
    return state.prompts.map((p) => [...((p.done ? p.finished[0] : p.running[0]) ?? p.finished[0])?.tokens ?? []]);
  }
}

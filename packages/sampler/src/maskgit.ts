/**
 * The MaskGIT scheduler: one `step()` turns the model's codebook probabilities at the N image positions into
 * the next, less-masked code grid. It is a pure object in the diffusers sense: no network, no tensors, no
 * randomness of its own (uniforms come from a {@link UniformSource} or are passed in).
 *
 * The step is exactly the official `Showo.t2i_generate` loop body (models/modeling_showo.py), in float32:
 *
 * ```
 * sample[r]  = first j with cumsum(probs[r])[j] > u_sample[r]            (categorical, inverse CDF)
 * sampled    = unknown ? sample : current code                          (given tokens are kept)
 * ratio      = (s+1)/T ; γ = schedule(ratio) ; mask_len = floor(N·γ) clamped to [1, unknown−1] per row
 * temp       = temp·(1 − ratio)                                         (compounds across steps)
 * conf       = log p(sampled) + temp·gumbel(u_gumbel)                   (given tokens: +∞)
 * masking    = conf < sort(conf)[mask_len]                              (strict)
 * ```
 *
 * One deviation, on purpose: the official code gives tokens that were given in the input the confidence
 * `log(FLT_MAX) + temp·gumbel` (≈ 88.7 ± temp·17), which a temperature above ~3 can push below an unknown
 * token's confidence, re-masking a given token. Here they get +∞, so a given token is never re-masked. For every
 * temperature where the official code keeps them (all the official settings), the two are identical.
 */
import { drawUniforms, type UniformSource } from '@showo/runtime';
import { MASKED } from './constants.js';
import { InvalidSamplingOptionError, InvalidStepsError, ModelOutputError } from './errors.js';
import { gumbelFromUniform, logClamped, sampleInverseCdf } from './float32.js';
import { resolveSchedule, scheduleName, type MaskScheduleFn, type MaskScheduleSpec } from './schedules.js';

const f32 = Math.fround;

/** Options of {@link MaskGitScheduler}. */
export interface MaskGitSchedulerOptions {
  /** Number of denoising steps T (≥ 1). */
  steps: number;
  /** Mask schedule γ (default cosine). */
  schedule?: MaskScheduleSpec;
  /** Initial temperature of the confidence noise (default 1.0, ≥ 0). It anneals as `temp·(1 − ratio)` every step. */
  temperature?: number;
  /**
   * Temperature τ of the code distribution itself (default 1: the official sampler, which applies none). Codes are
   * drawn from, and their confidence read off, p^(1/τ) renormalised per position; τ < 1 sharpens it (0: argmax).
   * Not in the official code: a common MaskGIT knob for models whose per-position distributions are too flat.
   */
  codeTemperature?: number;
}

/** Where a generation stands between steps. Immutable: each step returns a new one. */
export interface MaskGitState {
  readonly batch: number;
  /** Image tokens per row, N. */
  readonly numTokens: number;
  /** Codes [batch·N], row-major; {@link MASKED} (−1) where the token is still unknown. */
  readonly codes: Int32Array;
  /** Which positions were given in the input (never re-masked, never re-sampled) [batch·N]. */
  readonly given: Uint8Array;
  /** Temperature before the next step's annealing. */
  readonly temperature: number;
  /** Index of the next step. */
  readonly step: number;
}

/** The uniforms one step consumes: `sample` then `gumbel`, each [batch·N] (float32). */
export interface MaskGitDraws {
  sample: Float32Array;
  gumbel: Float32Array;
}

/** Everything one step decided (what the conformance fixture records per step). */
export interface MaskGitStepOutput {
  step: number;
  /** Progress (s+1)/T. */
  ratio: number;
  /** γ(ratio) as float32. */
  maskRatio: number;
  /** The annealed temperature used for this step's confidence noise. */
  temperature: number;
  /** The raw categorical draw at every position, given ones included (`sampled_codes_raw`) [batch·N]. */
  drawn: Int32Array;
  /** Codes sampled at every position, given ones kept [batch·N]: the complete prediction (the official return value). */
  sampled: Int32Array;
  /** 1 where the token is masked again for the next step [batch·N]. */
  masking: Uint8Array;
  /** Tokens re-masked per row (`mask_len`) [batch]. */
  maskLen: Int32Array;
  /** Masked positions left per row after this step. */
  numMasked: number[];
  /** State for the next step (codes with the re-masked positions set to {@link MASKED}). */
  state: MaskGitState;
  /** True after the last step. */
  done: boolean;
}

/** The diffusers-style MaskGIT scheduler. */
export class MaskGitScheduler {
  readonly steps: number;
  readonly temperature: number;
  readonly codeTemperature: number;
  readonly schedule: MaskScheduleFn;
  readonly scheduleName: string;

  constructor(options: MaskGitSchedulerOptions) {
    validateMaskGitOptions(options);
    this.steps = options.steps;
    this.temperature = options.temperature ?? 1.0;
    this.codeTemperature = options.codeTemperature ?? 1.0;
    this.schedule = resolveSchedule(options.schedule ?? 'cosine');
    this.scheduleName = scheduleName(options.schedule ?? 'cosine');
  }

  /** Progress value r = (s+1)/T of every step. */
  timesteps(): number[] {
    return Array.from({ length: this.steps }, (_, s) => (s + 1) / this.steps);
  }

  /**
   * The starting state. `codes` [batch·N] holds a code where the token is given (inpainting, editing,
   * extrapolation) and {@link MASKED} where it must be generated.
   */
  initialState(codes: ArrayLike<number>, batch: number): MaskGitState {
    if (!Number.isInteger(batch) || batch < 1 || codes.length % batch !== 0) {
      throw new InvalidSamplingOptionError('batch', batch, `a positive divisor of the code count ${codes.length}`);
    }
    const c = Int32Array.from(codes);
    const given = new Uint8Array(c.length);
    for (let i = 0; i < c.length; i++) given[i] = c[i] === MASKED ? 0 : 1;
    return { batch, numTokens: c.length / batch, codes: c, given, temperature: this.temperature, step: 0 };
  }

  /** `mask_len` for a row with `unknown` masked tokens at step `s`: floor(N·γ) clamped to [1, unknown−1]. */
  maskLength(step: number, numTokens: number, unknown: number): number {
    const ratio = (step + 1) / this.steps;
    const gamma = f32(this.schedule(ratio));
    const raw = Math.floor(f32(numTokens * gamma));
    return Math.max(1, Math.min(unknown - 1, raw));
  }

  /** Draws one step's uniforms in the official order: all sample uniforms, then all Gumbel uniforms. */
  draw(source: UniformSource, state: MaskGitState): MaskGitDraws {
    const n = state.batch * state.numTokens;
    return { sample: drawUniforms(source, n), gumbel: drawUniforms(source, n) };
  }

  /**
   * One step. `probs` [batch·N, K] are the codebook probabilities at the image positions (after guidance and
   * softmax; temperature is *not* applied to them, as in the official code). `uniforms` is a source (two
   * draws of batch·N) or the draws themselves.
   */
  step(probs: Float32Array, state: MaskGitState, uniforms: UniformSource | MaskGitDraws): MaskGitStepOutput {
    const { batch, numTokens: n, codes, given } = state;
    const rows = batch * n;
    if (state.step >= this.steps) throw new InvalidSamplingOptionError('step', state.step, `below the step count ${this.steps}`);
    if (rows === 0 || probs.length % rows !== 0) {
      throw new ModelOutputError(`probabilities hold ${probs.length} values, not a multiple of batch·N = ${rows}`);
    }
    const k = probs.length / rows;
    if (this.codeTemperature !== 1) probs = sharpen(probs, k, this.codeTemperature);
    const draws = 'next' in uniforms ? this.draw(uniforms, state) : uniforms;
    if (draws.sample.length !== rows || draws.gumbel.length !== rows) {
      throw new InvalidSamplingOptionError('uniform draws', `${draws.sample.length}/${draws.gumbel.length}`, `${rows} each`);
    }

    const ratio = (state.step + 1) / this.steps;
    const maskRatio = f32(this.schedule(ratio));
    // Python float arithmetic (double), exactly as the official loop anneals it; used as a float32 scalar below.
    const temperature = state.temperature * (1.0 - ratio);
    const temp32 = f32(temperature);

    const drawn = new Int32Array(rows);
    const sampled = new Int32Array(rows);
    const conf = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const draw = sampleInverseCdf(probs, r * k, k, draws.sample[r]);
      drawn[r] = draw;
      if (codes[r] === MASKED) {
        sampled[r] = draw;
        conf[r] = f32(logClamped(probs[r * k + draw]) + f32(temp32 * gumbelFromUniform(draws.gumbel[r])));
      } else {
        sampled[r] = codes[r];
        conf[r] = Infinity;
      }
    }

    const masking = new Uint8Array(rows);
    const maskLen = new Int32Array(batch);
    const numMasked: number[] = [];
    const next = new Int32Array(rows);
    const rowConf = new Float32Array(n);
    for (let b = 0; b < batch; b++) {
      let unknown = 0;
      for (let i = 0; i < n; i++) if (codes[b * n + i] === MASKED) unknown++;
      const len = this.maskLength(state.step, n, unknown);
      maskLen[b] = len;
      rowConf.set(conf.subarray(b * n, (b + 1) * n));
      rowConf.sort();
      const cut = rowConf[Math.min(len, n - 1)];
      let left = 0;
      for (let i = 0; i < n; i++) {
        const r = b * n + i;
        const m = conf[r] < cut ? 1 : 0;
        masking[r] = m;
        next[r] = m ? MASKED : sampled[r];
        left += m;
      }
      numMasked.push(left);
    }
    const stepIndex = state.step;
    return {
      step: stepIndex,
      ratio,
      maskRatio,
      temperature,
      drawn,
      sampled,
      masking,
      maskLen,
      numMasked,
      state: { batch, numTokens: n, codes: next, given, temperature, step: stepIndex + 1 },
      done: stepIndex + 1 === this.steps,
    };
  }
}

/** Throws the typed error for invalid scheduler options (steps, schedule, temperature). */
export function validateMaskGitOptions(options: MaskGitSchedulerOptions): void {
  if (!Number.isInteger(options.steps) || options.steps < 1) throw new InvalidStepsError(options.steps);
  resolveSchedule(options.schedule ?? 'cosine');
  const t = options.temperature ?? 1.0;
  if (!(typeof t === 'number' && t >= 0 && Number.isFinite(t))) throw new InvalidSamplingOptionError('temperature', t, 'a finite number ≥ 0');
  const ct = options.codeTemperature ?? 1.0;
  if (!(typeof ct === 'number' && ct >= 0 && Number.isFinite(ct))) throw new InvalidSamplingOptionError('codeTemperature', ct, 'a finite number ≥ 0');
}

/** Each row of `probs` [rows, k] raised to 1/τ and renormalised (τ = 0: one-hot at the first maximum). */
export function sharpen(probs: Float32Array, k: number, tau: number): Float32Array {
  const out = new Float32Array(probs.length);
  for (let o = 0; o < probs.length; o += k) {
    let best = o;
    for (let j = o + 1; j < o + k; j++) if (probs[j] > probs[best]) best = j;
    if (tau === 0 || probs[best] === 0) {
      out[best] = 1;
      continue;
    }
    // Relative to the maximum, so that small probabilities raised to a large power do not all underflow.
    const logMax = Math.log(probs[best]);
    let sum = 0;
    for (let j = o; j < o + k; j++) {
      const v = probs[j] > 0 ? Math.exp((Math.log(probs[j]) - logMax) / tau) : 0;
      out[j] = v;
      sum += v;
    }
    for (let j = o; j < o + k; j++) out[j] = f32(out[j] / sum);
  }
  return out;
}

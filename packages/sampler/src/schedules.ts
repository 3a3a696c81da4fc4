/**
 * Mask schedules γ(r) of MaskGIT (official `models/sampling.py`): at progress r = (step+1)/T, the fraction of
 * the N image tokens that stays masked. Every one is evaluated the way PyTorch evaluates it on a float32 scalar
 * tensor (`noise_schedule(torch.tensor(ratio))`), because `mask_len = floor(N·γ(r))` is a floor: one float32
 * rounding decides a whole token (the cosine schedule gives 0.49999997 at r = 4/6, so 64·γ floors to 31, not 32).
 */
import { InvalidSamplingOptionError, UnknownScheduleError } from './errors.js';

const f32 = Math.fround;
const F32_PI = f32(Math.PI);
const CLIP_MIN = f32(1e-6);

/** A mask schedule: progress r ∈ (0, 1] → fraction still masked, in [0, 1]. */
export type MaskScheduleFn = (ratio: number) => number;

/** The official schedule names; `pow<N>` takes any positive exponent (`pow2`, `pow0.5`, …). */
export type MaskScheduleName = 'cosine' | 'linear' | 'sigmoid' | `pow${number}`;

/** Parameters of the sigmoid schedule (official defaults start −3, end 3, tau 1, clip_min 1e-6). */
export interface SigmoidScheduleOptions {
  type: 'sigmoid';
  start?: number;
  end?: number;
  tau?: number;
  clipMin?: number;
}

/** Anything {@link resolveSchedule} accepts. */
export type MaskScheduleSpec = MaskScheduleName | (string & {}) | SigmoidScheduleOptions | MaskScheduleFn;

const clamp = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);
const sigmoid32 = (x: number): number => f32(1 / f32(1 + f32(Math.exp(-f32(x)))));

/** `cos(t·π·0.5)`, with the product rounded to float32 at each multiplication. */
export function cosineSchedule(ratio: number): number {
  return f32(Math.cos(f32(f32(f32(ratio) * F32_PI) * 0.5)));
}

/** `clamp(1 − t, 1e-6, 1)`. */
export function linearSchedule(ratio: number): number {
  return clamp(f32(1 - f32(ratio)), CLIP_MIN, 1);
}

/** `clamp(1 − t^exponent, 1e-6, 1)`. */
export function powSchedule(exponent: number): MaskScheduleFn {
  if (!(exponent > 0 && Number.isFinite(exponent))) throw new InvalidSamplingOptionError('pow exponent', exponent, 'a positive number');
  // t**2 is an exact float32 square in PyTorch; Math.pow then fround gives the same correctly-rounded value.
  return (ratio) => clamp(f32(1 - f32(Math.pow(f32(ratio), exponent))), CLIP_MIN, 1);
}

/** The official sigmoid schedule `(σ(end/τ) − σ((t(end−start)+start)/τ)) / (σ(end/τ) − σ(start/τ))`, clipped. */
export function sigmoidSchedule(options: Omit<SigmoidScheduleOptions, 'type'> = {}): MaskScheduleFn {
  const start = options.start ?? -3;
  const end = options.end ?? 3;
  const tau = options.tau ?? 1;
  const clipMin = f32(options.clipMin ?? 1e-6);
  if (!(tau > 0) || !(end > start)) throw new InvalidSamplingOptionError('sigmoid schedule', JSON.stringify(options), 'tau > 0 and end > start');
  const vStart = sigmoid32(start / tau);
  const vEnd = sigmoid32(end / tau);
  const span = f32(end - start);
  return (ratio) => {
    const x = f32(f32(f32(f32(ratio) * span) + f32(start)) / f32(tau));
    const out = f32(f32(vEnd - sigmoid32(x)) / f32(vEnd - vStart));
    return clamp(out, clipMin, 1);
  };
}

/**
 * The schedule function for a name, a sigmoid options object, or a user function (returned unchanged).
 * Unknown names throw {@link UnknownScheduleError}.
 */
export function resolveSchedule(spec: MaskScheduleSpec): MaskScheduleFn {
  if (typeof spec === 'function') return spec;
  if (typeof spec === 'object' && spec !== null && spec.type === 'sigmoid') return sigmoidSchedule(spec);
  if (typeof spec !== 'string') throw new UnknownScheduleError(String(spec));
  if (spec === 'cosine') return cosineSchedule;
  if (spec === 'linear') return linearSchedule;
  if (spec === 'sigmoid') return sigmoidSchedule();
  const m = /^pow(\d+(?:\.\d+)?)$/.exec(spec);
  if (m && Number(m[1]) > 0) return powSchedule(Number(m[1]));
  throw new UnknownScheduleError(spec);
}

/** A readable name of a schedule spec (for events and logs). */
export function scheduleName(spec: MaskScheduleSpec): string {
  if (typeof spec === 'function') return spec.name || 'custom';
  if (typeof spec === 'object') return 'sigmoid';
  return spec;
}

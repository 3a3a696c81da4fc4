import { InvalidArgumentError } from '@showo/runtime';

/**
 * Learning-rate schedules, as plain data so they live in JSON stage configs. Steps are 0-based optimiser steps:
 * `learningRate(s, 0)` is the rate of the first update. The warm-up and cosine shapes are those of the
 * `get_scheduler('cosine', …)` the official trainer uses (diffusers' `get_cosine_schedule_with_warmup`, half a
 * cycle): linear from 0 over `warmupSteps`, then `0.5·(1 + cos(π·progress))`; here optionally floored at `minLr`.
 */
export type LrSchedule =
  | { kind: 'constant'; lr: number; warmupSteps?: number }
  | { kind: 'cosine'; lr: number; warmupSteps?: number; totalSteps: number; minLr?: number }
  | { kind: 'linear'; lr: number; warmupSteps?: number; totalSteps: number; minLr?: number };

/** Checks a schedule read from JSON; throws `InvalidArgumentError` naming the bad field. */
export function validateSchedule(s: LrSchedule): LrSchedule {
  if (!s || typeof s !== 'object') throw new InvalidArgumentError('schedule must be an object');
  if (!['constant', 'cosine', 'linear'].includes(s.kind)) throw new InvalidArgumentError(`schedule.kind must be constant, cosine or linear, got ${JSON.stringify(s.kind)}`);
  if (!(typeof s.lr === 'number' && s.lr >= 0 && Number.isFinite(s.lr))) throw new InvalidArgumentError(`schedule.lr must be a finite number ≥ 0, got ${s.lr}`);
  const warm = s.warmupSteps ?? 0;
  if (!(Number.isInteger(warm) && warm >= 0)) throw new InvalidArgumentError(`schedule.warmupSteps must be an integer ≥ 0, got ${warm}`);
  if (s.kind !== 'constant') {
    if (!(Number.isInteger(s.totalSteps) && s.totalSteps > 0)) throw new InvalidArgumentError(`schedule.totalSteps must be a positive integer, got ${s.totalSteps}`);
    const min = s.minLr ?? 0;
    if (!(min >= 0 && min <= s.lr)) throw new InvalidArgumentError(`schedule.minLr must lie in [0, lr], got ${min}`);
  }
  return s;
}

/** The learning rate of 0-based optimiser step `step`. */
export function learningRate(s: LrSchedule, step: number): number {
  const warm = s.warmupSteps ?? 0;
  if (step < warm) return (s.lr * step) / Math.max(1, warm);
  if (s.kind === 'constant') return s.lr;
  const min = s.minLr ?? 0;
  const progress = Math.min(1, (step - warm) / Math.max(1, s.totalSteps - warm));
  const factor = s.kind === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
  return min + (s.lr - min) * Math.max(0, factor);
}

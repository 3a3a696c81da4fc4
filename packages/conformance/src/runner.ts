import fs from 'node:fs';
import { checkForward } from './checks/core.js';
import { checkMagvit } from './checks/magvit.js';
import { checkMasks, checkPrompts } from './checks/prompting.js';
import { checkMaskgit, checkMmu } from './checks/sampler.js';
import { checkTrainLosses, checkTrainMasking } from './checks/trainer.js';
import type { CheckResult } from './types.js';

/** One group of checks: a fixture family and the function that compares us with it. */
export interface ConformanceSuite {
  /** e.g. 'prompts' */
  name: string;
  run(dir: string): CheckResult[] | Promise<CheckResult[]>;
}

/** Every suite, in the order data flows: prompts and masks, the transformer, samplers, training, the tokenizer. */
export const CONFORMANCE_SUITES: readonly ConformanceSuite[] = [
  { name: 'prompts', run: checkPrompts },
  { name: 'masks', run: checkMasks },
  { name: 'forward', run: checkForward },
  { name: 'maskgit', run: checkMaskgit },
  { name: 'mmu', run: checkMmu },
  { name: 'train_masking', run: checkTrainMasking },
  { name: 'train_losses', run: checkTrainLosses },
  { name: 'magvit', run: checkMagvit },
];

/** Summary of a conformance run. */
export interface ConformanceReport {
  results: CheckResult[];
  passed: number;
  failed: number;
}

export interface RunConformanceOptions {
  /** Called with each result as soon as it is known (the CLI prints one line per check). */
  onResult?: (result: CheckResult) => void;
  /** Only these suites (by name); default all. */
  suites?: readonly string[];
}

/**
 * Runs every conformance suite against a folder laid out like `shared/reference/` (holding `showo-tiny/` and
 * `magvit-tiny/`). A missing folder, a missing or malformed fixture, or a suite that throws is a failed check —
 * never a silent pass.
 */
export async function runConformance(dir: string, options: RunConformanceOptions = {}): Promise<ConformanceReport> {
  const results: CheckResult[] = [];
  const emit = (r: CheckResult) => {
    results.push(r);
    options.onResult?.(r);
  };
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    emit({ name: 'fixtures', ok: false, detail: `${dir} is not a folder` });
  } else {
    const suites = options.suites ? CONFORMANCE_SUITES.filter((s) => options.suites!.includes(s.name)) : CONFORMANCE_SUITES;
    for (const suite of suites) {
      try {
        const out = await suite.run(dir);
        if (out.length === 0) emit({ name: `${suite.name}`, ok: false, detail: 'no checks ran (no fixture cases found)' });
        for (const r of out) emit(r);
      } catch (e) {
        emit({ name: `${suite.name}`, ok: false, detail: `suite crashed: ${(e as Error)?.message ?? e}` });
      }
    }
  }
  const passed = results.filter((r) => r.ok).length;
  return { results, passed, failed: results.length - passed };
}

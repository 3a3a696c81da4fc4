/** @packageDocumentation
 * Conformance runner: compares every showo-ts component with fixtures made by the official implementation.
 */
export type { CheckResult } from './types.js';
export { runConformance, CONFORMANCE_SUITES, type ConformanceSuite, type ConformanceReport, type RunConformanceOptions } from './runner.js';
export { checkForward } from './checks/core.js';
export { checkMagvit } from './checks/magvit.js';
export { checkPrompts, checkMasks } from './checks/prompting.js';
export { checkMaskgit, checkMmu } from './checks/sampler.js';
export { checkTrainMasking, checkTrainLosses } from './checks/trainer.js';

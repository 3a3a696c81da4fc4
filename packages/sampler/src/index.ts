/** @packageDocumentation
 * MaskGIT and autoregressive samplers and task pipelines as streams.
 *
 * - Schedulers (pure, no network): {@link MaskGitScheduler} (the official `t2i_generate` step, float32-exact) and
 *   {@link AutoregressiveSampler} (`mmu_generate`'s token choice plus greedy, top-p, stop ids, batches).
 * - Model contract: {@link SequenceLogitsModel} (`forward(ids, allow)`, what a user's own transformer provides),
 *   optionally {@link CachingSequenceModel} (showo-core's prefix / KV caches); sessions adapt either.
 *   {@link withDualEngine} runs the two halves of classifier-free guidance on two cores (a `DualEngine`).
 * - Pipelines (cold RxJS Observables of typed events, `AbortSignal` aware): {@link textToImage}, {@link inpaint},
 *   {@link extrapolate}, {@link edit}, {@link understand}, {@link generateTokens}; {@link ShowoPipelines} bundles them.
 * - {@link SAMPLER_TYPES} / {@link samplerModule}: dependency injection.
 */
export * from './constants.js';
export * from './errors.js';
export * from './float32.js';
export * from './schedules.js';
export * from './maskgit.js';
export * from './autoregressive.js';
export * from './beam.js';
export * from './types.js';
export * from './sessions.js';
export * from './dual-cfg.js';
export * from './events.js';
export * from './stream.js';
export * from './codec.js';
export * from './collect.js';
export * from './pipelines/image-common.js';
export * from './pipelines/image-tasks.js';
export * from './pipelines/text.js';
export * from './pipelines/pipelines.js';
export * from './pipelines/howto.js';
export * from './di.js';

/** @packageDocumentation
 * The Show-o transformer (Phi-1.5 + QK-norm) with KV and prefix caches.
 *
 * - {@link ShowoModel}: random init, load/save of official checkpoints, `forward`, `prefill`,
 *   `forwardWithCache`, `resizeVocab` (new task tokens), `insertLayers` (deeper, same function),
 *   `addImagePositionEmbedding` (optional image row / column embeddings), `trainableVariables`, and
 *   `shard` / `forwardParallel` (one forward split over two engines, {@link ShowoShard}).
 * - {@link KVCache}: the keys/values of processed positions (KV cache for decoding, prefix cache for MaskGIT).
 * - {@link ShowoConfig}: the official config fields; {@link parseShowoConfig} reads the official and fixture
 *   layouts; {@link tokenLayoutFor} gives the `TokenLayout` of `@showo/prompting` for a config.
 * - The decoder layer ({@link decoderLayer}) is one readable file, `block.ts`.
 * - {@link createShowoEngine} / {@link SHOWO_ENGINE_MODULE}: a `DualEngine` (main thread + worker) over a model's
 *   weights, running the engine module `engine.ts` ({@link showoEngine}: prefix cache and image logits per
 *   classifier-free-guidance branch).
 * - {@link SHOWO_CORE_TYPES} / {@link showoCoreModule}: dependency-injection identifiers and default bindings.
 */
export * from './errors.js';
export * from './config.js';
export * from './layout.js';
export type { TokenLayout } from '@showo/prompting';
export {
  decoderLayer,
  applyRotary,
  rotaryTables,
  type BlockDims,
  type DecoderLayerWeights,
  type IntermediateCallback,
  type LayerKV,
  type LinearWeights,
  type NormWeights,
  type Rotary,
} from './block.js';
export { paramSpecs, memoryShape, type ParamKind, type ParamSpec } from './weights.js';
export { KVCache } from './cache.js';
export { WEIGHTS_FILE_NAMES, CONFIG_FILE_NAME, type LoadOptions, type SaveOptions } from './checkpoint.js';
export { WASM_SAFE_BUDGET_BYTES, assertModelFits, modelBytes, type MemoryBudgetOptions } from './memory.js';
export {
  ShowoModel,
  INIT_STD,
  type AllowInput,
  type AllowMaskLike,
  type CachedForwardOptions,
  type ForwardOptions,
  type LogitsSelection,
  type NormalSource,
} from './model.js';
export { ShowoShard, type ParallelShare } from './parallel.js';
export { SHOWO_ENGINE_MODULE, createShowoEngine, type ShowoDualEngineOptions } from './dual.js';
export * as showoEngine from './engine.js';
export type { ShowoEngineCallOptions, ShowoForwardOptions, ShowoImageLogitsOptions } from './engine.js';
export { SHOWO_CORE_TYPES, showoCoreModule, defaultModelLoader, type ShowoModelLoader } from './di.js';

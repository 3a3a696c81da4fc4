/** @packageDocumentation
 * Text tokenizers, token layout, task registry and Show-o unified prompting.
 *
 * - {@link TextTokenizer}: {@link WordTokenizer} (the embedded model's, lossless on the Shapes World language) and
 *   {@link HfTextTokenizer} (Phi-1.5's BPE from a local Hugging Face folder).
 * - {@link TokenLayout}: where text, the ten Show-o tokens, image codes, `[MASK]` and plugin task tokens live.
 * - {@link UniversalPrompting}: the official prompt formats (t2i, mmu, lm, lvg) plus interleaved, inpainting and
 *   extrapolation variants.
 * - {@link TaskRegistry}: task name → token, prompt format, attention rule; plugins register new tasks.
 * - {@link PROMPTING_TYPES} / {@link promptingModule}: dependency-injection identifiers and default bindings.
 */
export * from './types.js';
export * from './constants.js';
export * from './errors.js';
export * from './tokenizers/word.js';
export * from './tokenizers/hf.js';
export * from './layout.js';
export * from './prompts.js';
export * from './segments.js';
export * from './registry.js';
export * from './di.js';

/** @packageDocumentation
 * MAGVIT-v2 image tokenizer with lookup-free quantisation (official Show-o `modeling_magvitv2.py`), on the
 * `@showo/runtime` primitives: config, model, weights I/O (official names, safetensors), image I/O, training loss,
 * and DI bindings.
 */
export * from './types.js';
export * from './errors.js';
export * from './config.js';
export * from './params.js';
export * from './lfq.js';
export * from './model.js';
export * from './weights.js';
export * from './image-io.js';
export * from './despeckle.js';
export * from './loss.js';
export * from './discriminator.js';
export * from './local-code.js';
export * from './grow.js';
export * from './patch-codebook.js';
export * from './di.js';

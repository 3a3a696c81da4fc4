/** @packageDocumentation
 * Training for showo-ts: a generic loop (AdamW, warm-up + cosine schedule, global-norm clipping, gradient
 * accumulation, atomic resumable checkpoints, an RxJS stream of metrics) that every model here trains with, and the
 * Show-o specifics on top (official losses and image-token masking, Shapes World data, staged configs).
 */
export * from './types.js';
export * from './errors.js';
export * from './masking.js';
export * from './losses.js';
export * from './optim/adamw.js';
export * from './optim/average.js';
export * from './optim/schedule.js';
export * from './optim/clip.js';
export * from './checkpoint.js';
export * from './metrics.js';
export * from './plot.js';
export * from './train.js';
export * from './showo/batch.js';
export * from './showo/howto.js';
export * from './showo/task.js';
export * from './data/encoder.js';
export * from './data/shapes.js';
export * from './data/images.js';
export * from './showo/stages.js';
export * from './di.js';

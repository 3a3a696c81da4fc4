/**
 * Engine module of Show-o training for `DualEngine` (`@showo/runtime`): loaded on the main thread and in the
 * worker, it computes the same loss as `ShowoTask.lossFn` over the engine's weights. Imports only what a worker
 * thread can load (tfjs, showo-core, the loss code).
 */
import type * as tf from '@tensorflow/tfjs';
import type { EngineContext, NamedTensors } from '@showo/runtime';
import { ShowoModel, type ShowoConfig } from '@showo/showo-core';
import { showoForwardLoss, type ShowoEngineOptions } from './task.js';

/** `{ loss, ...parts }` of one Show-o batch: inputs `ids`, `labels`, `allow` (bool [B, L, L]), optional `ntp`. */
export function showoLoss(ctx: EngineContext, inputs: NamedTensors, options: unknown): NamedTensors {
  const o = options as ShowoEngineOptions;
  // A borrowed view is cheap (no copies) and must be rebuilt per call: under a gradient tape the weights are the
  // tape's tensors, not the stored ones.
  const model = ShowoModel.borrow(o.config as ShowoConfig, ctx.weights);
  // Targets are read on the host (they choose the rows whose logits are computed); inputs are small int32 tensors.
  const labels = inputs.labels.dataSync() as Int32Array;
  const ntp = inputs.ntp ? (inputs.ntp.dataSync() as Int32Array) : undefined;
  const { total, parts } = showoForwardLoss(model, inputs.ids, inputs.allow, labels, ntp, o);
  return { loss: total, ...parts } as Record<string, tf.Tensor>;
}

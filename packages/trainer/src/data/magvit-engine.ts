/**
 * Engine module of tokenizer training for `DualEngine` (`@showo/runtime`): the loss of `magvitTask`, computed over
 * the engine's weights, so that `train({ workers: 2 })` runs micro-batches on both cores. Imports only what a
 * worker thread can load.
 */
import type * as tf from '@tensorflow/tfjs';
import type { EngineContext, NamedTensors } from '@showo/runtime';
import { MagvitTokenizer, localCodeHeadFrom, magvitLoss, type MagvitConfig, type MagvitLossOptions } from '@showo/tokenizer-magvit';

/** Options of {@link magvitTrainLoss}: plain data (they cross to the worker). */
export interface MagvitEngineOptions {
  config: MagvitConfig;
  loss: Omit<MagvitLossOptions, 'targets' | 'extraLoss' | 'localCode'>;
  /** Weight of the local-code term; its head's tensors come with the engine's weights. */
  localCodeWeight?: number;
}

/** `{ loss, recon, entropy, commit }` of images float32 [B, H, W, 3] in [-1, 1] (input `images`). */
export function magvitTrainLoss(ctx: EngineContext, inputs: NamedTensors, options: unknown): NamedTensors {
  const o = options as MagvitEngineOptions;
  const model = MagvitTokenizer.borrow(o.config, ctx.weights);
  const head = o.localCodeWeight ? localCodeHeadFrom(ctx.weights) : undefined;
  if (o.localCodeWeight && !head) throw new Error('magvitTrainLoss: the engine has no local-code head weights');
  const l = magvitLoss(model, inputs.images as tf.Tensor4D, head ? { ...o.loss, localCode: { weight: o.localCodeWeight!, head } } : o.loss);
  return { loss: l.total, recon: l.recon, entropy: l.entropy, commit: l.commit, ...(l.local ? { local: l.local } : {}) };
}

/**
 * Engine module of tokenizer training for `DualEngine` (`@showo/runtime`): the loss of `magvitTask`, computed over
 * the engine's weights, so that `train({ workers: 2 })` runs micro-batches on both cores. Imports only what a
 * worker thread can load.
 */
import type * as tf from '@tensorflow/tfjs';
import type { EngineContext, NamedTensors } from '@showo/runtime';
import { MagvitTokenizer, localCodeHeadFrom, magvitDecoderLoss, magvitEncoderLoss, magvitLoss, type MagvitConfig, type MagvitLossOptions } from '@showo/tokenizer-magvit';

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

/**
 * `{ loss, recon }` of the decoder alone: it renders `codes` int32 [B, h·w] (computed by the frozen encoder on the
 * main thread, or given by the batch) and is scored against `images` float32 [B, H, W, 3]. The engine holds only
 * the decoder's weights — the ones being trained.
 */
export function magvitDecoderTrainLoss(ctx: EngineContext, inputs: NamedTensors, options: unknown): NamedTensors {
  const o = options as MagvitEngineOptions;
  const model = MagvitTokenizer.borrow(o.config, ctx.weights, { part: 'decoder' });
  const l = magvitDecoderLoss(model, inputs.codes as tf.Tensor2D, inputs.images as tf.Tensor4D, o.loss);
  return { loss: l.total, recon: l.recon };
}

/**
 * `{ loss, bits, codes }` of the encoder alone: `images` float32 [B, H, W, 3] should quantise to the target
 * `codes` int32 [B, h·w] (`magvitEncoderLoss`). The engine holds only the encoder's weights.
 */
export function magvitEncoderTrainLoss(ctx: EngineContext, inputs: NamedTensors, options: unknown): NamedTensors {
  const o = options as MagvitEngineOptions;
  const model = MagvitTokenizer.borrow(o.config, ctx.weights, { part: 'encoder' });
  const l = magvitEncoderLoss(model, inputs.images as tf.Tensor4D, inputs.codes as tf.Tensor2D, o.loss.focalGamma !== undefined ? { focalGamma: o.loss.focalGamma } : {});
  return { loss: l.total, bits: l.bitAccuracy, codes: l.codeAccuracy };
}

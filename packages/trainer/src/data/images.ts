import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, SeededRandom } from '@showo/runtime';
import { CANVAS_SIZE, randomScene, renderScene, sampleHowto, type RandomSceneOptions, type Scene } from '@showo/shapes-world';
import { createLocalCodeHead, localCodeHeadFrom, magvitDecoderLoss, magvitEncoderLoss, magvitLoss, type MagvitLossOptions, type MagvitTokenizer } from '@showo/tokenizer-magvit';
import type { EngineCall, EngineTrainable, JsonValue, LossOutput, Stateful, TrainableModel } from '../types.js';
import type { MagvitEngineOptions } from './magvit-engine.js';

const MAGVIT_ENGINE_MODULE = new URL(import.meta.url.endsWith('.ts') ? './magvit-engine.ts' : './magvit-engine.js', import.meta.url);

/** A batch of images for tokenizer training: NHWC float32 in [−1, 1] on the host. */
export interface ImageBatch {
  batch: number;
  size: number;
  /** Row-major [batch, size, size, 3]. */
  pixels: Float32Array;
  /**
   * Decoder-only tasks: the codes the decoder reads instead of the images' own, row-major [batch, h·w] — e.g. a
   * generator's imperfect samples of these scenes, so the decoder learns to turn them into the clean images, or a
   * `PatchCodebook`'s exact codes. Encoder-only tasks: the codes the encoder must produce (required).
   */
  codes?: Int32Array;
}

/**
 * An endless, resumable stream of rendered Shapes World scenes for training the image tokenizer: random scenes
 * (1–3 objects, never a held-out composition) and, with weight `howtoWeight`, how-to keyframes (large objects on
 * the sides), so the tokenizer sees what Show-o will be asked to generate.
 */
export class ShapesWorldImageData implements Iterator<ImageBatch>, Iterable<ImageBatch>, Stateful {
  private readonly rng: SeededRandom;
  private index = 0;
  constructor(
    readonly options: { seed: number; batch: number; scene?: Omit<RandomSceneOptions, 'allowHeldOut'>; howtoWeight?: number },
  ) {
    if (!(Number.isInteger(options.batch) && options.batch > 0)) throw new InvalidArgumentError(`batch must be a positive integer, got ${options.batch}`);
    this.rng = new SeededRandom(options.seed);
  }
  [Symbol.iterator](): Iterator<ImageBatch> {
    return this;
  }
  /** The scenes of the next batch (advances the stream). */
  nextScenes(): Scene[] {
    const out: Scene[] = [];
    for (let i = 0; i < this.options.batch; i++) {
      if (this.rng.next() < (this.options.howtoWeight ?? 0)) {
        const steps = sampleHowto(this.rng).steps;
        out.push(steps[Math.floor(this.rng.next() * steps.length)].scene);
      } else {
        out.push(randomScene(this.rng, { ...(this.options.scene ?? {}), allowHeldOut: false }));
      }
    }
    this.index++;
    return out;
  }
  next(): IteratorResult<ImageBatch> {
    const scenes = this.nextScenes();
    const n = CANVAS_SIZE * CANVAS_SIZE * 3;
    const pixels = new Float32Array(scenes.length * n);
    scenes.forEach((s, b) => {
      const rgb = renderScene(s);
      for (let i = 0; i < n; i++) pixels[b * n + i] = rgb[i] / 127.5 - 1;
    });
    return { done: false, value: { batch: scenes.length, size: CANVAS_SIZE, pixels } };
  }
  getState(): JsonValue {
    return { rng: this.rng.getState().map((v) => (Number.isNaN(v) ? null : v)), index: this.index };
  }
  setState(state: JsonValue): void {
    const s = state as { rng?: number[]; index?: number };
    if (!s || !Array.isArray(s.rng) || typeof s.index !== 'number') throw new InvalidArgumentError('not an image stream state');
    this.rng.setState(s.rng);
    this.index = s.index;
  }
}

/** Options of {@link magvitTask} beyond the loss's own. */
export interface MagvitTaskOptions {
  /**
   * Adds the local-code auxiliary term with this weight (palette tokenizers): a small head, trained alongside and
   * checkpointed with the run but never saved with the tokenizer, predicts each patch from its code alone.
   */
  localCode?: { weight: number; hidden?: number; bits?: number; seed?: number };
  /**
   * 'decoder' trains only the decoder (parameters under `decoder.`): the encoder and so every code stay exactly as
   * they are, and a generator trained on those codes stays valid while reconstructions improve. The decoder reads
   * each batch's `codes` when it has them (see {@link ImageBatch}), else the images' own codes. 'encoder' trains
   * only the encoder (parameters under `encoder.`) to produce each batch's `codes` (`magvitEncoderLoss`, with the
   * loss options' `focalGamma` on the code bits; the reported parts are `bits` and `codes`, the shares of right
   * bits and codes). Default 'all'.
   */
  train?: 'all' | 'decoder' | 'encoder';
}

/**
 * The MAGVIT tokenizer as a {@link TrainableModel} of image batches (its loss is `magvitLoss`); also an
 * {@link EngineTrainable} (train with `workers: 2` on both cores) unless the loss options hold functions, tensors
 * or a discriminator. With `lossOptions.adversarial` the discriminator's variables train in the same step (the
 * adversarial terms are reported as `adv_g`, `adv_d` and `lecam`); pass the discriminator in the trainer's `state`
 * too, so that its LeCAM anchors survive a resume. `dispose()` frees what the task created (the local-code head),
 * not the tokenizer or the discriminator.
 */
export function magvitTask(
  tokenizer: MagvitTokenizer,
  lossOptions: MagvitLossOptions = {},
  taskOptions: MagvitTaskOptions = {},
): TrainableModel<ImageBatch> & Partial<EngineTrainable<ImageBatch>> & { dispose(): void } {
  const lc = taskOptions.localCode;
  const decoderOnly = taskOptions.train === 'decoder';
  const encoderOnly = taskOptions.train === 'encoder';
  if ((decoderOnly || encoderOnly) && lc) throw new InvalidArgumentError(`a${encoderOnly ? 'n encoder' : ' decoder'}-only task cannot train the local-code head`);
  if (encoderOnly && lossOptions.adversarial) throw new InvalidArgumentError('an encoder-only task has no decoder output for a discriminator');
  const head = lc ? createLocalCodeHead(tokenizer.config, tokenizer.downsampleFactor, lc) : undefined;
  const trainedPrefix = decoderOnly ? 'decoder.' : encoderOnly ? 'encoder.' : '';
  const own = [...tokenizer.namedVariables()].filter(([name]) => name.startsWith(trainedPrefix));
  const discriminator = lossOptions.adversarial?.discriminator;
  const variables = (): Record<string, tf.Variable> => ({
    ...Object.fromEntries(own),
    ...(head ? Object.fromEntries(head) : {}),
    ...(discriminator ? Object.fromEntries(discriminator.namedVariables()) : {}),
  });
  const adversarialParts = (l: { adversarial?: { generator: tf.Scalar; discriminator: tf.Scalar; lecam: tf.Scalar } }): Record<string, tf.Scalar> =>
    l.adversarial ? { adv_g: l.adversarial.generator, adv_d: l.adversarial.discriminator, lecam: l.adversarial.lecam } : {};
  const task: TrainableModel<ImageBatch> & { dispose(): void } = {
    trainableVariables: variables,
    /** Frees the local-code head (the tokenizer stays the caller's). */
    dispose: () => head?.forEach((v) => v.dispose()),
    lossFn(b: ImageBatch): LossOutput {
      if (encoderOnly && !b.codes) throw new InvalidArgumentError('an encoder-only task needs batches with target codes');
      const images = tf.tensor4d(b.pixels, [b.batch, b.size, b.size, 3]);
      if (encoderOnly) {
        const l = magvitEncoderLoss(tokenizer, images, { data: b.codes!, batch: b.batch }, lossOptions.focalGamma !== undefined ? { focalGamma: lossOptions.focalGamma } : {});
        return { total: l.total, parts: { bits: l.bitAccuracy, codes: l.codeAccuracy }, tokens: b.batch * b.size * b.size };
      }
      if (b.codes && !decoderOnly) throw new InvalidArgumentError('batches with their own codes train the decoder only (train: "decoder")');
      if (decoderOnly) {
        // The encoder is frozen: its codes are data here, computed outside any gradient.
        const codes = b.codes ? { data: b.codes, batch: b.batch } : tf.tidy(() => tokenizer.encodeToCodes(images));
        const l = magvitDecoderLoss(tokenizer, codes, images, lossOptions);
        if (!b.codes) (codes as tf.Tensor).dispose();
        return { total: l.total, parts: { recon: l.recon, ...adversarialParts(l) }, tokens: b.batch * b.size * b.size };
      }
      const l = magvitLoss(tokenizer, images, head ? { ...lossOptions, localCode: { weight: lc!.weight, head: localCodeHeadFrom(head)! } } : lossOptions);
      return {
        total: l.total,
        parts: { recon: l.recon, entropy: l.entropy, commit: l.commit, ...(l.local ? { local: l.local } : {}), ...adversarialParts(l) },
        tokens: b.batch * b.size * b.size,
      };
    },
  };
  // Functions (a custom extra loss), per-call target tensors and a discriminator (with its host-side LeCAM anchors)
  // cannot travel to a worker: such tasks train on one engine.
  if (lossOptions.extraLoss || lossOptions.targets || lossOptions.localCode || lossOptions.adversarial) return task;
  const { extraLoss: _e, targets: _t, localCode: _l, adversarial: _a, ...plain } = lossOptions;
  if (encoderOnly) {
    // Engines hold only the encoder's weights; the target codes travel as data.
    return {
      ...task,
      engineModule: MAGVIT_ENGINE_MODULE,
      engineCall: (b: ImageBatch): EngineCall => {
        if (!b.codes) throw new InvalidArgumentError('an encoder-only task needs batches with target codes');
        return {
          fn: 'magvitEncoderTrainLoss',
          inputs: { images: tf.tensor4d(b.pixels, [b.batch, b.size, b.size, 3]), codes: tf.tensor2d(b.codes, [b.batch, b.codes.length / b.batch], 'int32') },
          options: { config: tokenizer.config, loss: plain } satisfies MagvitEngineOptions,
          tokens: b.batch * b.size * b.size,
        };
      },
    };
  }
  if (decoderOnly) {
    // Engines hold only the trained (decoder) weights, so the frozen encoder's codes travel as data.
    return {
      ...task,
      engineModule: MAGVIT_ENGINE_MODULE,
      engineCall: (b: ImageBatch): EngineCall => {
        const images = tf.tensor4d(b.pixels, [b.batch, b.size, b.size, 3]);
        const codes = b.codes
          ? tf.tensor2d(b.codes, [b.batch, b.codes.length / b.batch], 'int32')
          : tf.tidy(() => tokenizer.encodeToCodes(images));
        return {
          fn: 'magvitDecoderTrainLoss',
          inputs: { images, codes },
          options: { config: tokenizer.config, loss: plain } satisfies MagvitEngineOptions,
          tokens: b.batch * b.size * b.size,
        };
      },
    };
  }
  return {
    ...task,
    engineModule: MAGVIT_ENGINE_MODULE,
    engineCall: (b: ImageBatch): EngineCall => {
      if (b.codes) throw new InvalidArgumentError('batches with their own codes train the decoder only (train: "decoder")');
      return {
        fn: 'magvitTrainLoss',
        inputs: { images: tf.tensor4d(b.pixels, [b.batch, b.size, b.size, 3]) },
        options: { config: tokenizer.config, loss: plain, ...(lc ? { localCodeWeight: lc.weight } : {}) } satisfies MagvitEngineOptions,
        tokens: b.batch * b.size * b.size,
      };
    },
  };
}

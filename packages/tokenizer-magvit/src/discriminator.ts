/**
 * The optional adversarial term of tokenizer training (MAGVIT-v2 trains its tokenizer with a GAN loss and LeCAM
 * regularisation; the official Show-o release ships no tokenizer training at all). A small residual patch
 * discriminator scores every region of an image as real or reconstructed; the decoder is pushed towards outputs it
 * scores as real. Off unless `magvitLoss({ adversarial })` is given one.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2d, InvalidArgumentError, SeededRandom } from '@showo/runtime';
import { stopGradient } from './lfq.js';

/** Shape of a {@link PatchDiscriminator}. */
export interface PatchDiscriminatorConfig {
  /** Channels of its input: 3 for RGB tokenizers, the palette size for palette tokenizers (class probabilities). */
  inChannels: number;
  /** Width of each residual block; each block halves the resolution (default [32, 64, 64]: 64×64 → 8×8 patches). */
  channels?: readonly number[];
  /** Negative slope of the leaky ReLUs (default 0.2). */
  slope?: number;
}

/** Weights of the adversarial term in {@link AdversarialTerm}. Defaults follow MAGVIT-v2. */
export interface AdversarialWeights {
  /** Weight of the decoder's (generator's) hinge term −D(fake) (default 0.1, as MAGVIT-v2). */
  generatorWeight?: number;
  /** Weight of the discriminator's hinge loss (default 1). */
  discriminatorWeight?: number;
  /** Weight of the LeCAM regulariser, relative to the discriminator's loss (default 0.001, as MAGVIT-v2; 0: off). */
  lecamWeight?: number;
  /** Decay of the LeCAM anchors, moving averages of the mean real and fake logits (default 0.999). */
  lecamDecay?: number;
  /** The adversarial terms are zero for this many loss evaluations (micro-batches) first (default 0). */
  startAfter?: number;
}

/** What `magvitLoss({ adversarial })` takes. */
export interface AdversarialTerm extends AdversarialWeights {
  discriminator: PatchDiscriminator;
}

/** The adversarial part of a loss evaluation (scalars; already weighted into the total by `magvitLoss`). */
export interface AdversarialLosses {
  /** −mean D(fake), the decoder's term (unweighted). */
  generator: tf.Scalar;
  /** mean relu(1 − D(real)) + mean relu(1 + D(fake)), the discriminator's hinge loss (unweighted). */
  discriminator: tf.Scalar;
  /** The LeCAM regulariser (unweighted). */
  lecam: tf.Scalar;
  /** Weighted sum of the three, 0 before `startAfter`: what enters the total. */
  total: tf.Scalar;
}

/**
 * A residual patch discriminator: conv 3×3 in, then blocks of (leaky ReLU, conv 3×3, leaky ReLU, conv 3×3 stride 2)
 * with an average-pooled 1×1 shortcut, summed and scaled by 1/√2 (the StyleGAN-2 residual layout, without blur),
 * and a 3×3 conv to one logit per output cell. Its variables train in the same step as the tokenizer (one
 * optimiser, separate parameters): the decoder's term sees the discriminator's weights through a stop-gradient, and
 * the discriminator's term sees a stopped reconstruction, so each side is moved only by its own loss.
 *
 * It also keeps the two LeCAM anchors and a count of loss evaluations; {@link getState} / {@link setState} carry
 * them through checkpoints (pass the discriminator in the trainer's `state`).
 */
export class PatchDiscriminator {
  readonly config: Required<PatchDiscriminatorConfig>;
  private readonly weights = new Map<string, tf.Variable>();
  private anchorReal = 0;
  private anchorFake = 0;
  private anchorsStarted = false;
  private evaluations = 0;
  private disposed = false;

  constructor(config: PatchDiscriminatorConfig, seed = 0) {
    const channels = [...(config.channels ?? [32, 64, 64])];
    const slope = config.slope ?? 0.2;
    if (!(Number.isInteger(config.inChannels) && config.inChannels > 0)) throw new InvalidArgumentError(`inChannels must be a positive integer, got ${config.inChannels}`);
    if (channels.length === 0 || channels.some((c) => !(Number.isInteger(c) && c > 0))) throw new InvalidArgumentError('channels must be positive integers, at least one');
    if (!(slope >= 0 && slope < 1)) throw new InvalidArgumentError(`slope must be in [0, 1), got ${slope}`);
    this.config = { inChannels: config.inChannels, channels, slope };
    const rng = new SeededRandom(seed);
    const add = (name: string, shape: number[], fanIn: number) => {
      // He initialisation for leaky ReLU; biases start at zero.
      const std = fanIn > 0 ? Math.sqrt(2 / ((1 + slope * slope) * fanIn)) : 0;
      const n = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      if (std > 0) for (let i = 0; i < n; i++) data[i] = std * rng.normal();
      this.weights.set(name, tf.tidy(() => tf.variable(tf.tensor(data, shape), true)));
    };
    add('conv_in.weight', [3, 3, config.inChannels, channels[0]!], 9 * config.inChannels);
    add('conv_in.bias', [channels[0]!], 0);
    let cin = channels[0]!;
    channels.forEach((cout, i) => {
      add(`blocks.${i}.conv1.weight`, [3, 3, cin, cin], 9 * cin);
      add(`blocks.${i}.conv1.bias`, [cin], 0);
      add(`blocks.${i}.conv2.weight`, [3, 3, cin, cout], 9 * cin);
      add(`blocks.${i}.conv2.bias`, [cout], 0);
      add(`blocks.${i}.skip.weight`, [1, 1, cin, cout], cin);
      cin = cout;
    });
    add('conv_out.weight', [3, 3, cin, 1], 9 * cin);
    add('conv_out.bias', [1], 0);
  }

  /** Trainable variables, keyed `discriminator.<name>` (distinct from every tokenizer parameter). */
  namedVariables(): Map<string, tf.Variable> {
    this.check();
    return new Map([...this.weights].map(([k, v]) => [`discriminator.${k}`, v]));
  }

  /** Input side divided by this is the side of the logit grid. */
  get downsampleFactor(): number {
    return 2 ** this.config.channels.length;
  }

  /**
   * Patch logits [B, H/f, W/f, 1] of images [B, H, W, inChannels] (H, W multiples of `downsampleFactor`). With
   * `frozen`, the weights sit behind a stop-gradient: gradients reach the input only.
   */
  logits(x: tf.Tensor4D, options: { frozen?: boolean } = {}): tf.Tensor4D {
    this.check();
    const [, H, W, C] = x.shape;
    const f = this.downsampleFactor;
    if (C !== this.config.inChannels) throw new InvalidArgumentError(`the discriminator takes ${this.config.inChannels} channels, got ${C}`);
    if (H % f !== 0 || W % f !== 0) throw new InvalidArgumentError(`the discriminator needs sides that are multiples of ${f}, got ${H}×${W}`);
    return tf.tidy(() => {
      const w = (name: string) => {
        const v = this.weights.get(name)!;
        return (options.frozen ? stopGradient(v) : v) as tf.Tensor;
      };
      const leaky = (t: tf.Tensor4D) => tf.maximum(t, tf.mul(t, this.config.slope)) as tf.Tensor4D;
      let h = conv2d(x, w('conv_in.weight') as tf.Tensor4D, w('conv_in.bias') as tf.Tensor1D);
      this.config.channels.forEach((_, i) => {
        const p = `blocks.${i}.`;
        let r = conv2d(leaky(h), w(`${p}conv1.weight`) as tf.Tensor4D, w(`${p}conv1.bias`) as tf.Tensor1D);
        r = conv2d(leaky(r), w(`${p}conv2.weight`) as tf.Tensor4D, w(`${p}conv2.bias`) as tf.Tensor1D, 2, [[0, 1], [0, 1]]);
        const skip = conv2d(averagePool2x(h), w(`${p}skip.weight`) as tf.Tensor4D);
        h = tf.mul(tf.add(r, skip), Math.SQRT1_2) as tf.Tensor4D;
      });
      return conv2d(leaky(h), w('conv_out.weight') as tf.Tensor4D, w('conv_out.bias') as tf.Tensor1D);
    });
  }

  /**
   * The adversarial losses of one batch: hinge losses of the discriminator on `real` and on `fake` (the latter behind
   * a stop-gradient), the decoder's term −D(fake) through frozen discriminator weights, and LeCAM against the
   * anchors (as they were before this batch). Then moves the anchors towards this batch's mean logits (a read of
   * two numbers) and counts the call.
   */
  losses(real: tf.Tensor4D, fake: tf.Tensor4D, weights: AdversarialWeights = {}): AdversarialLosses {
    this.check();
    const gw = weights.generatorWeight ?? 0.1;
    const dw = weights.discriminatorWeight ?? 1;
    const lw = weights.lecamWeight ?? 0.001;
    const decay = weights.lecamDecay ?? 0.999;
    for (const [k, v] of Object.entries({ generator: gw, discriminator: dw, lecam: lw })) {
      if (!(v >= 0 && Number.isFinite(v))) throw new InvalidArgumentError(`adversarial ${k} weight must be a finite number ≥ 0, got ${v}`);
    }
    if (!(decay >= 0 && decay < 1)) throw new InvalidArgumentError(`lecamDecay must be in [0, 1), got ${decay}`);
    const on = this.evaluations >= (weights.startAfter ?? 0) ? 1 : 0;
    this.evaluations++;
    const out = tf.tidy(() => {
      const dReal = this.logits(real);
      const dFake = this.logits(stopGradient(fake) as tf.Tensor4D);
      const discriminator = tf.add(tf.mean(tf.relu(tf.sub(1, dReal))), tf.mean(tf.relu(tf.add(1, dFake)))) as tf.Scalar;
      const generator = tf.neg(tf.mean(this.logits(fake, { frozen: true }))) as tf.Scalar;
      // LeCAM (Tseng et al. 2021): keep real logits near the fake anchor and fake logits near the real anchor.
      const lecam = tf.add(
        tf.mean(tf.square(tf.relu(tf.sub(dReal, this.anchorFake)))),
        tf.mean(tf.square(tf.relu(tf.sub(this.anchorReal, dFake)))),
      ) as tf.Scalar;
      const total = tf.mul(tf.addN([tf.mul(generator, gw), tf.mul(discriminator, dw), tf.mul(lecam, dw * lw)]), on) as tf.Scalar;
      const [meanReal, meanFake] = tf.stack([tf.mean(dReal), tf.mean(dFake)]).dataSync();
      this.moveAnchors(meanReal!, meanFake!, decay);
      return { generator, discriminator, lecam, total };
    });
    return out;
  }

  /** LeCAM anchors (moving averages of the mean real and fake logits) and loss evaluations so far. */
  getState(): { anchorReal: number; anchorFake: number; started: boolean; evaluations: number } {
    return { anchorReal: this.anchorReal, anchorFake: this.anchorFake, started: this.anchorsStarted, evaluations: this.evaluations };
  }

  setState(state: unknown): void {
    const s = state as { anchorReal?: unknown; anchorFake?: unknown; started?: unknown; evaluations?: unknown } | null;
    if (!s || typeof s.anchorReal !== 'number' || typeof s.anchorFake !== 'number' || typeof s.started !== 'boolean' || !Number.isInteger(s.evaluations)) {
      throw new InvalidArgumentError('discriminator state needs anchorReal, anchorFake, started and evaluations');
    }
    this.anchorReal = s.anchorReal;
    this.anchorFake = s.anchorFake;
    this.anchorsStarted = s.started;
    this.evaluations = s.evaluations as number;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([...this.weights.values()]);
    this.weights.clear();
  }

  /** Exponential moving averages of the mean logits; the first batch sets them. */
  private moveAnchors(real: number, fake: number, decay: number): void {
    if (!this.anchorsStarted) {
      this.anchorReal = real;
      this.anchorFake = fake;
      this.anchorsStarted = true;
    } else {
      this.anchorReal = decay * this.anchorReal + (1 - decay) * real;
      this.anchorFake = decay * this.anchorFake + (1 - decay) * fake;
    }
  }

  private check(): void {
    if (this.disposed) throw new InvalidArgumentError('this discriminator was disposed');
  }
}

/** 2× average pooling [B, H, W, C] → [B, H/2, W/2, C], written with reshape and mean (their gradients hold on wasm). */
function averagePool2x(x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  return tf.mean(tf.reshape(x, [b, h / 2, 2, w / 2, 2, c]), [2, 4]) as tf.Tensor4D;
}

/**
 * Training objective of the tokenizer: reconstruction + the official LFQ entropy and commitment terms, and
 * optionally MAGVIT-v2's adversarial term (a {@link PatchDiscriminator} with LeCAM) and a perceptual term on
 * features of the caller's network. Pure functions of the model's variables and a batch, so the trainer can wrap
 * them in its own optimiser step.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@showo/runtime';
import { ImageShapeError } from './errors.js';
import { codesToLatentData, lfqForward, readCodes, stopGradient, type CodesInput } from './lfq.js';
import type { MagvitTokenizer } from './model.js';
import { localCodeLoss, type LocalCodeHead } from './local-code.js';
import { paletteTable } from './palette.js';
import type { AdversarialLosses, AdversarialTerm } from './discriminator.js';

/** Options of {@link magvitLoss}. All default to the official objective with an L2 reconstruction. */
export interface MagvitLossOptions {
  /** Weight of the reconstruction term (default 1). */
  reconWeight?: number;
  /** RGB reconstruction: 'l2' (MAGVIT-v2, default) or 'l1' (taming VQGAN). Palette heads use cross-entropy. */
  reconLoss?: 'l2' | 'l1';
  /** Scales the official entropy term (which already includes `entropy_multiplier`); default 1. */
  entropyWeight?: number;
  /** Scales the official commitment term (which already includes `commit_loss_multiplier`); default 1. */
  commitWeight?: number;
  /**
   * Weight of pixels on an edge — where the target differs from a 4-neighbour (palette class, or any channel by
   * more than 1/64 in RGB) — relative to 1 elsewhere. Small shapes are mostly edge; 5 helped palette worlds.
   */
  edgeWeight?: number;
  /**
   * Palette mode: focal-loss exponent γ — each pixel's cross-entropy is scaled by (1 − p)^γ, p the probability of
   * its true colour, so that the few pixels the decoder still gets wrong (a circle's one-pixel extremes, which
   * decide its bounding box and so its detected shape) outweigh the millions it already gets right. Default 0
   * (plain cross-entropy).
   */
  focalGamma?: number;
  /**
   * Palette mode: weight of thin pixels — target pixels with at most one 4-neighbour of their own class (a circle's
   * one-pixel extremes, a triangle's apex and the two ends of its base; see {@link thinPixelMask}) — relative to 1,
   * in place of the edge weight there. A flat-shape detector reads an object's bounding box, so losing one such
   * pixel moves its centre by half a pixel, across a thirds line when the object sits on one. Default 1 (no extra
   * weight); any other value on an RGB tokenizer is an `InvalidArgumentError`.
   */
  thinWeight?: number;
  /**
   * Palette mode: per-pixel target classes int32 [B, H, W]. Default: the nearest palette colour of each input
   * pixel.
   */
  targets?: tf.Tensor3D;
  /**
   * Palette mode: the local-code auxiliary term (see `createLocalCodeHead`) — each pixel's class predicted from its
   * patch's code alone — with this weight. Off by default.
   */
  localCode?: { weight: number; head: LocalCodeHead };
  /**
   * The adversarial term (MAGVIT-v2: hinge GAN + LeCAM): a {@link PatchDiscriminator} trained in the same step, the
   * decoder pushed towards outputs it scores as real. Palette tokenizers show it one-hot images (the output's argmax,
   * straight-through) against the one-hot targets. Off by default. Train the discriminator's variables with the
   * tokenizer's (the trainer's `magvitTask` does). Under one global-norm clip a large discriminator gradient also
   * shrinks the decoder's step: clip the discriminator apart (the trainer's `clipGroups: ['discriminator.']`).
   */
  adversarial?: AdversarialTerm;
  /**
   * Optional extra term on (decoder output, input images), e.g. {@link perceptualLoss} over a network of the
   * caller's; added to the total with weight 1. Off by default.
   */
  extraLoss?: (output: tf.Tensor4D, images: tf.Tensor4D) => tf.Scalar;
}

/** Loss terms of one batch (scalars; total = recon·w + entropy·w + commit·w + local·w + extra). */
export interface MagvitLosses {
  total: tf.Scalar;
  recon: tf.Scalar;
  entropy: tf.Scalar;
  commit: tf.Scalar;
  /** The local-code term (unweighted), when `localCode` was given. */
  local?: tf.Scalar;
  /** The adversarial terms, when `adversarial` was given (their weighted sum is in `total`). */
  adversarial?: AdversarialLosses;
}

/**
 * A perceptual loss for `extraLoss`: the mean squared distance between features of the reconstruction and of the
 * input, summed over the feature maps `features` returns (e.g. activations of a pretrained network loaded by the
 * caller; this package ships none), times `weight`. Palette tokenizers pass it the expected RGB image of the
 * output (see {@link paletteExpectation}).
 */
export function perceptualLoss(
  features: (images: tf.Tensor4D) => readonly tf.Tensor[],
  weight = 1,
  toImages: (output: tf.Tensor4D) => tf.Tensor4D = (o) => o,
): (output: tf.Tensor4D, images: tf.Tensor4D) => tf.Scalar {
  if (!(weight >= 0 && Number.isFinite(weight))) throw new InvalidArgumentError(`perceptual weight must be a finite number ≥ 0, got ${weight}`);
  return (output, images) =>
    tf.tidy(() => {
      const a = features(toImages(output));
      const b = features(images);
      if (a.length === 0 || a.length !== b.length) throw new InvalidArgumentError('the feature function must return the same non-empty list of maps for both images');
      return tf.mul(tf.addN(a.map((f, i) => tf.mean(tf.square(tf.sub(f, b[i]!))))), weight) as tf.Scalar;
    });
}

/** Expected RGB image [B, H, W, 3] in [−1, 1] of palette logits [B, H, W, K]: Σ softmax · palette colour. */
export function paletteExpectation(logits: tf.Tensor4D, palette: readonly (readonly [number, number, number])[]): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, k] = logits.shape;
    if (k !== palette.length) throw new InvalidArgumentError(`logits have ${k} classes, the palette ${palette.length}`);
    const table = paletteTable(palette);
    return tf.matMul(tf.softmax(logits, -1).reshape([-1, k]), table).reshape([b, h, w, 3]) as tf.Tensor4D;
  });
}

/**
 * The discriminator's view of a batch. RGB tokenizers: output against images. Palette tokenizers: one-hot targets
 * against the one-hot argmax of the output, with the softmax's gradient (straight-through) — so the discriminator
 * judges the decoded shapes, not how confident the logits are (real one-hots and soft probabilities would differ
 * by that alone), while the decoder still receives a gradient.
 */
function adversarialTerms(model: MagvitTokenizer, term: AdversarialTerm, output: tf.Tensor4D, images: tf.Tensor4D, targets: tf.Tensor3D | undefined): AdversarialLosses {
  const cfg = model.config;
  if (cfg.outputMode === 'palette') {
    const k = cfg.palette!.length;
    const real = tf.oneHot(tf.cast(targets!, 'int32'), k).toFloat() as tf.Tensor4D;
    const soft = tf.softmax(output, -1);
    const hard = tf.oneHot(tf.argMax(output, -1), k).toFloat();
    const fake = tf.add(soft, stopGradient(tf.sub(hard, soft))) as tf.Tensor4D;
    return term.discriminator.losses(real, fake, term);
  }
  return term.discriminator.losses(images, output, term);
}

/** Nearest palette colour index of each pixel of images [B, H, W, 3] in [−1, 1] → int32 [B, H, W]. */
export function nearestPaletteClass(images: tf.Tensor4D, palette: readonly (readonly [number, number, number])[]): tf.Tensor3D {
  return tf.tidy(() => {
    const table = paletteTable(palette);
    // ‖x − c‖² = ‖x‖² − 2x·c + ‖c‖²; the ‖x‖² term is the same for every colour, so argmin needs only the rest.
    const cross = tf.matMul(images.reshape([-1, 3]), table.transpose());
    const score = tf.sub(tf.sum(tf.square(table), 1), tf.mul(cross, 2));
    const [b, h, w] = images.shape;
    return tf.argMin(score, -1).reshape([b, h, w]) as tf.Tensor3D;
  });
}

/** 1 on pixels whose value differs from a 4-neighbour's (`differs` compares two shifted copies), else 0. */
function edgeMask(x: tf.Tensor, differs: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [b, h, w] = x.shape;
    // Trailing axes (RGB channels) are kept whole; `differs` reduces them, so masks are [B, H, W(-1)].
    const zero = x.shape.slice(3).map(() => 0);
    const all = x.shape.slice(3).map(() => -1);
    let edge: tf.Tensor = tf.zeros([b, h, w]);
    if (w > 1) {
      const dx = tf.cast(differs(tf.slice(x, [0, 0, 1, ...zero], [-1, -1, -1, ...all]), tf.slice(x, [0, 0, 0, ...zero], [-1, -1, w - 1, ...all])), 'float32');
      edge = tf.maximum(edge, tf.maximum(tf.pad(dx, [[0, 0], [0, 0], [1, 0]]), tf.pad(dx, [[0, 0], [0, 0], [0, 1]])));
    }
    if (h > 1) {
      const dy = tf.cast(differs(tf.slice(x, [0, 1, 0, ...zero], [-1, -1, -1, ...all]), tf.slice(x, [0, 0, 0, ...zero], [-1, h - 1, -1, ...all])), 'float32');
      edge = tf.maximum(edge, tf.maximum(tf.pad(dy, [[0, 0], [1, 0], [0, 0]]), tf.pad(dy, [[0, 0], [0, 1], [0, 0]])));
    }
    return edge;
  });
}

/** Weighted mean of per-pixel losses [B, H, W]: Σ w·l / Σ w. */
function weightedMean(perPixel: tf.Tensor, weights: tf.Tensor | undefined): tf.Scalar {
  if (!weights) return tf.mean(perPixel) as tf.Scalar;
  return tf.div(tf.sum(tf.mul(perPixel, weights)), tf.sum(weights)) as tf.Scalar;
}

/** Options of the reconstruction term alone (shared by {@link magvitLoss} and {@link magvitDecoderLoss}). */
type ReconstructionOptions = Pick<MagvitLossOptions, 'reconLoss' | 'edgeWeight' | 'focalGamma' | 'thinWeight' | 'targets'>;
type CheckedWeights = { edgeWeight: number; focalGamma: number; thinWeight: number };

function checkReconstructionOptions(options: ReconstructionOptions): CheckedWeights {
  const edgeWeight = options.edgeWeight ?? 1;
  if (!(edgeWeight > 0)) throw new InvalidArgumentError(`edgeWeight must be positive, got ${edgeWeight}`);
  const focalGamma = options.focalGamma ?? 0;
  if (!(focalGamma >= 0 && Number.isFinite(focalGamma))) throw new InvalidArgumentError(`focalGamma must be a finite number ≥ 0, got ${focalGamma}`);
  const thinWeight = options.thinWeight ?? 1;
  if (!(thinWeight > 0 && Number.isFinite(thinWeight))) throw new InvalidArgumentError(`thinWeight must be a finite positive number, got ${thinWeight}`);
  return { edgeWeight, focalGamma, thinWeight };
}

/**
 * 1 on pixels of a class map [B, H, W] with at most one 4-neighbour of their own class, else 0. Outside the image
 * counts as the same class, so that a shape touching the border is not thin there.
 */
export function thinPixelMask(classes: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, h, w] = classes.shape;
    let same: tf.Tensor = tf.zeros([b, h, w]);
    if (w > 1) {
      const eq = tf.cast(tf.equal(tf.slice(classes, [0, 0, 1], [-1, -1, -1]), tf.slice(classes, [0, 0, 0], [-1, -1, w - 1])), 'float32');
      same = tf.add(same, tf.add(tf.pad(eq, [[0, 0], [0, 0], [1, 0]], 1), tf.pad(eq, [[0, 0], [0, 0], [0, 1]], 1)));
    } else same = tf.add(same, 2);
    if (h > 1) {
      const eq = tf.cast(tf.equal(tf.slice(classes, [0, 1, 0], [-1, -1, -1]), tf.slice(classes, [0, 0, 0], [-1, h - 1, -1])), 'float32');
      same = tf.add(same, tf.add(tf.pad(eq, [[0, 0], [1, 0], [0, 0]], 1), tf.pad(eq, [[0, 0], [0, 1], [0, 0]], 1)));
    } else same = tf.add(same, 2);
    return tf.cast(tf.lessEqual(same, 1), 'float32') as tf.Tensor3D;
  });
}

/** Palette class targets [B, H, W] of a batch: the given ones (shape-checked) or the images' nearest colours. */
function paletteTargets(model: MagvitTokenizer, images: tf.Tensor4D, output: tf.Tensor4D, given: tf.Tensor3D | undefined): tf.Tensor3D {
  const targets = given ?? nearestPaletteClass(images, model.config.palette!);
  if (targets.shape.join(',') !== output.shape.slice(0, 3).join(',')) {
    throw new InvalidArgumentError(`targets must be [${output.shape.slice(0, 3).join(', ')}], got [${targets.shape.join(', ')}]`);
  }
  return targets;
}

/** The reconstruction term of a decoder output against its images (palette cross-entropy, or L2 / L1 on RGB). */
function reconstructionLoss(
  model: MagvitTokenizer,
  output: tf.Tensor4D,
  images: tf.Tensor4D,
  targets: tf.Tensor3D | undefined,
  options: ReconstructionOptions,
  { edgeWeight, focalGamma, thinWeight }: CheckedWeights,
): tf.Scalar {
  const cfg = model.config;
  if (cfg.outputMode === 'palette') {
    const K = cfg.palette!.length;
    const t = targets ?? paletteTargets(model, images, output, options.targets);
    const logp = tf.logSoftmax(output, -1);
    let nll: tf.Tensor = tf.neg(tf.sum(tf.mul(logp, tf.oneHot(tf.cast(t, 'int32'), K)), -1));
    if (focalGamma > 0) {
      const miss = tf.sub(1, tf.exp(tf.neg(nll))); // 1 − p
      // pow is ~10× slower than a multiply on wasm: the usual exponents get plain products.
      const factor = focalGamma === 1 ? miss : focalGamma === 2 ? tf.square(miss) : tf.pow(miss, focalGamma);
      nll = tf.mul(nll, factor);
    }
    let weights = edgeWeight === 1 ? undefined : tf.add(1, tf.mul(edgeWeight - 1, edgeMask(t, (a, b) => tf.notEqual(a, b))));
    if (thinWeight !== 1) {
      const thin = thinPixelMask(t);
      weights = tf.add(tf.mul(weights ?? 1, tf.sub(1, thin)), tf.mul(thin, thinWeight));
    }
    return weightedMean(nll, weights);
  }
  if (thinWeight !== 1) throw new InvalidArgumentError('thinWeight needs a palette tokenizer: thin pixels are found among palette classes');
  const diff = tf.sub(output, images);
  const perPixel = tf.mean(options.reconLoss === 'l1' ? tf.abs(diff) : tf.square(diff), -1);
  const weights =
    edgeWeight === 1 ? undefined : tf.add(1, tf.mul(edgeWeight - 1, edgeMask(images, (a, b) => tf.any(tf.greater(tf.abs(tf.sub(a, b)), 1 / 32), -1))));
  return weightedMean(perPixel, weights);
}

/**
 * The tokenizer objective on images [B, H, W, 3] in [−1, 1]: encode, quantise (straight-through sign), decode,
 * and return the terms. Differentiable with respect to `model.trainableVariables()`; call inside `tf.tidy` or a
 * gradient function, and dispose the returned scalars when used outside one.
 */
export function magvitLoss(model: MagvitTokenizer, images: tf.Tensor4D, options: MagvitLossOptions = {}): MagvitLosses {
  model.checkImages(images);
  const cfg = model.config;
  const checked = checkReconstructionOptions(options);
  if (options.localCode && cfg.outputMode !== 'palette') throw new InvalidArgumentError('the local-code term needs a palette tokenizer');
  return tf.tidy(() => {
    const z = model.forwardEncoder(images);
    const q = lfqForward(z, cfg);
    const output = model.forwardDecoder(q.zq as tf.Tensor4D);
    const targets = cfg.outputMode === 'palette' ? paletteTargets(model, images, output, options.targets) : undefined;
    const recon = reconstructionLoss(model, output, images, targets, options, checked);
    const local = options.localCode ? localCodeLoss(q.zq as tf.Tensor4D, targets!, options.localCode.head, cfg.palette!.length) : undefined;
    const entropy = tf.mul(q.entropy, options.entropyWeight ?? 1) as tf.Scalar;
    const commit = tf.mul(q.commit, options.commitWeight ?? 1) as tf.Scalar;
    let total = tf.addN([tf.mul(recon, options.reconWeight ?? 1), entropy, commit]) as tf.Scalar;
    if (local) total = tf.add(total, tf.mul(local, options.localCode!.weight)) as tf.Scalar;
    if (options.extraLoss) total = tf.add(total, options.extraLoss(output, images)) as tf.Scalar;
    const adversarial = options.adversarial ? adversarialTerms(model, options.adversarial, output, images, targets) : undefined;
    if (adversarial) total = tf.add(total, adversarial.total) as tf.Scalar;
    return { total, recon, entropy, commit, ...(local ? { local } : {}), ...(adversarial ? { adversarial } : {}) } as unknown as tf.TensorContainer;
  }) as unknown as MagvitLosses;
}

/**
 * The decoder's objective on given codes: decode `codes` [B, h·w] and compare with `images` [B, H, W, 3] (the
 * reconstruction term of {@link magvitLoss}, with its `reconWeight`, edge weight, focal exponent, targets and extra
 * loss; no quantiser terms, since no encoder runs). With the images' own codes this is the decoder half of
 * `magvitLoss`. With codes that differ from them — a generator's imperfect samples, say — it trains a decoder
 * that turns such codes into clean images while the encoder, and so every code, stays as it is. Differentiable
 * with respect to the decoder's variables; codes outside the codebook are a `CodeRangeError`, a codes grid that
 * does not match the images an `ImageShapeError`.
 */
export function magvitDecoderLoss(model: MagvitTokenizer, codes: CodesInput, images: tf.Tensor4D, options: MagvitLossOptions = {}): MagvitLosses {
  model.checkImages(images);
  const checked = checkReconstructionOptions(options);
  if (options.localCode) throw new InvalidArgumentError('the local-code term shapes the codes; the decoder loss cannot use it');
  const [b, H, W] = images.shape;
  const f = model.downsampleFactor;
  return tf.tidy(() => {
    const latent = model.codesToLatent(codes, [H / f, W / f]);
    if (latent.shape[0] !== b) throw new ImageShapeError(`codes are for ${latent.shape[0]} image(s) but ${b} image(s) were given`);
    const output = model.forwardDecoder(latent);
    const targets = model.config.outputMode === 'palette' ? paletteTargets(model, images, output, options.targets) : undefined;
    const recon = reconstructionLoss(model, output, images, targets, options, checked);
    let total = tf.mul(recon, options.reconWeight ?? 1) as tf.Scalar;
    if (options.extraLoss) total = tf.add(total, options.extraLoss(output, images)) as tf.Scalar;
    const adversarial = options.adversarial ? adversarialTerms(model, options.adversarial, output, images, targets) : undefined;
    if (adversarial) total = tf.add(total, adversarial.total) as tf.Scalar;
    return { total, recon, entropy: tf.scalar(0), commit: tf.scalar(0), ...(adversarial ? { adversarial } : {}) } as unknown as tf.TensorContainer;
  }) as unknown as MagvitLosses;
}

/** Terms of {@link magvitEncoderLoss} (scalars). */
export interface MagvitEncoderLosses {
  /** Mean logistic loss over latent channels: softplus(−t·z), t = ±1 the bit the target code asks for. */
  total: tf.Scalar;
  /** Share of latent channels whose sign equals the target bit (not differentiable). */
  bitAccuracy: tf.Scalar;
  /** Share of positions whose code equals the target code (not differentiable). */
  codeAccuracy: tf.Scalar;
}

/**
 * The encoder's objective towards given codes: images [B, H, W, 3] should quantise to `codes` [B, h·w] (for
 * example a {@link PatchCodebook}'s exact patch codes). Each latent channel is one bit of the code (lookup-free
 * quantisation), so the loss is a logistic loss per channel on the sign its target bit asks for (times (1 − p)^γ
 * with `focalGamma` γ, p the probability of the right sign); no decoder runs.
 * Differentiable with respect to the `encoder.` variables; a codes grid that does not match the images is an
 * `ImageShapeError`, codes outside the codebook a `CodeRangeError`.
 */
export function magvitEncoderLoss(model: MagvitTokenizer, images: tf.Tensor4D, codes: CodesInput, options: { focalGamma?: number } = {}): MagvitEncoderLosses {
  const gamma = options.focalGamma ?? 0;
  if (!(gamma >= 0)) throw new InvalidArgumentError(`focalGamma must be ≥ 0, got ${gamma}`);
  model.checkImages(images);
  const [b, H, W] = images.shape;
  const f = model.downsampleFactor;
  const D = model.config.codebookDim;
  const read = readCodes(codes, D);
  if (read.batch !== b || read.length !== (H / f) * (W / f)) {
    throw new ImageShapeError(`codes of ${read.batch} × ${read.length} do not match ${b} image(s) of ${H}×${W} (${(H / f) * (W / f)} codes each)`);
  }
  return tf.tidy(() => {
    const z = model.forwardEncoder(images);
    const t = tf.tensor4d(codesToLatentData(read.data, D), z.shape);
    const margin = tf.mul(t, z);
    let perBit = tf.softplus(tf.neg(margin));
    // Focal weighting (1 − p)^γ, p = σ(t·z) the probability of the right bit: a background that is already right
    // everywhere stops drowning the few patches with edges.
    if (gamma > 0) perBit = tf.mul(perBit, gamma === 2 ? tf.square(tf.sigmoid(tf.neg(margin))) : tf.pow(tf.sigmoid(tf.neg(margin)), gamma));
    const total = tf.mean(perBit) as tf.Scalar;
    const right = tf.greater(margin, 0);
    const bitAccuracy = tf.mean(tf.cast(right, 'float32')) as tf.Scalar;
    const codeAccuracy = tf.mean(tf.cast(tf.all(right, -1), 'float32')) as tf.Scalar;
    return { total, bitAccuracy, codeAccuracy } as unknown as tf.TensorContainer;
  }) as unknown as MagvitEncoderLosses;
}

/** Plain-number loss terms of one step. */
export interface MagvitLossValues {
  total: number;
  recon: number;
  entropy: number;
  commit: number;
}

/**
 * One forward and backward pass: the loss terms (numbers) and the gradient of `total` for every trainable
 * variable. `grads` is keyed by tfjs variable name (ready for `optimizer.applyGradients(grads)`);
 * `gradsByParameter` holds the same tensors keyed by official parameter name. The caller disposes them (once).
 */
export function magvitLossAndGrads(
  model: MagvitTokenizer,
  images: tf.Tensor4D,
  options: MagvitLossOptions = {},
): { losses: MagvitLossValues; grads: tf.NamedTensorMap; gradsByParameter: Map<string, tf.Tensor> } {
  const vars = model.trainableVariables();
  let parts: tf.Scalar[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const l = magvitLoss(model, images, options);
    // The other terms are kept past the gradient scope so they can be reported; freed below.
    parts = [tf.keep(l.recon), tf.keep(l.entropy), tf.keep(l.commit)];
    return l.total;
  }, vars);
  try {
    const [recon, entropy, commit] = parts.map((t) => t.dataSync()[0]);
    const total = value.dataSync()[0];
    const byParameter = new Map<string, tf.Tensor>();
    for (const [name, v] of model.namedVariables()) if (grads[v.name]) byParameter.set(name, grads[v.name]);
    return { losses: { total, recon, entropy, commit }, grads, gradsByParameter: byParameter };
  } finally {
    value.dispose();
    for (const t of parts) t.dispose();
  }
}

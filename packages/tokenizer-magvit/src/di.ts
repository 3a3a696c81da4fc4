/**
 * Dependency injection at the edge: service identifiers and one ContainerModule binding the defaults. Numeric code
 * never sees the container; an application binds {@link MAGVIT_TYPES.Source} (or overrides any binding) and
 * resolves {@link MAGVIT_TYPES.Tokenizer}.
 */
import { ContainerModule } from 'inversify';
import { createMagvitConfig } from './config.js';
import * as images from './image-io.js';
import { magvitLoss, magvitLossAndGrads } from './loss.js';
import { MagvitTokenizer } from './model.js';
import type { MagvitConfig } from './types.js';
import { loadMagvit, saveMagvit, type LoadMagvitOptions } from './weights.js';

/** Where the bound tokenizer comes from: a weights file, or a config to initialise randomly (for training). */
export type MagvitSource = ({ weights: string } & LoadMagvitOptions) | { config: MagvitConfig; seed?: number };

/** Image decoding, preprocessing and PNG output, as one injectable service. */
export interface MagvitImageCodec {
  readImage: typeof images.readImage;
  decodeImage: typeof images.decodeImage;
  imageTransform: typeof images.imageTransform;
  imagesToTensor: typeof images.imagesToTensor;
  loadImageBatch: typeof images.loadImageBatch;
  tensorToImages: typeof images.tensorToImages;
  codesToImages: typeof images.codesToImages;
  encodePng: typeof images.encodePng;
  writePng: typeof images.writePng;
}

/** The training objective and its weights I/O, as one injectable service. */
export interface MagvitTraining {
  loss: typeof magvitLoss;
  lossAndGrads: typeof magvitLossAndGrads;
  save: typeof saveMagvit;
}

/** Injection tokens of `@showo/tokenizer-magvit` (`Symbol.for`, so two copies of the package agree). */
export const MAGVIT_TYPES = {
  /** {@link MagvitSource}: weights to load, or a config to initialise (default {@link DEFAULT_MAGVIT_SOURCE}). */
  Source: Symbol.for('showo.tokenizer-magvit.Source'),
  /** {@link MagvitTokenizer} (singleton; disposed when the container unbinds it). */
  Tokenizer: Symbol.for('showo.tokenizer-magvit.Tokenizer'),
  /** {@link MagvitImageCodec}. */
  ImageCodec: Symbol.for('showo.tokenizer-magvit.ImageCodec'),
  /** {@link MagvitTraining}. */
  Training: Symbol.for('showo.tokenizer-magvit.Training'),
} as const;

export const defaultImageCodec: MagvitImageCodec = {
  readImage: images.readImage,
  decodeImage: images.decodeImage,
  imageTransform: images.imageTransform,
  imagesToTensor: images.imagesToTensor,
  loadImageBatch: images.loadImageBatch,
  tensorToImages: images.tensorToImages,
  codesToImages: images.codesToImages,
  encodePng: images.encodePng,
  writePng: images.writePng,
};

export const defaultTraining: MagvitTraining = { loss: magvitLoss, lossAndGrads: magvitLossAndGrads, save: saveMagvit };

/** Builds the tokenizer a source describes. */
export function tokenizerFromSource(source: MagvitSource): MagvitTokenizer {
  if ('weights' in source) return loadMagvit(source.weights, source);
  return MagvitTokenizer.create(source.config, { seed: source.seed });
}

/** Options of {@link magvitModule}. */
export interface MagvitModuleOptions {
  /** Default {@link MagvitSource}; an application may also bind `MAGVIT_TYPES.Source` itself before loading. */
  source?: MagvitSource;
}

/** A small random tokenizer (64×64 images → 16×16 codes of 8 bits): the default source, meant for training. */
export const DEFAULT_MAGVIT_SOURCE: MagvitSource = { config: createMagvitConfig({ ch: 32, chMult: [1, 2, 2], resolution: 64, codebookDim: 8 }) };

/**
 * The package's container module: binds the source (unless already bound), the tokenizer built from it (a
 * singleton, disposed when unbound), the image codec and the training functions.
 */
export function magvitModule(options: MagvitModuleOptions = {}): ContainerModule {
  return new ContainerModule(({ bind, isBound }) => {
    if (!isBound(MAGVIT_TYPES.Source)) bind<MagvitSource>(MAGVIT_TYPES.Source).toConstantValue(options.source ?? DEFAULT_MAGVIT_SOURCE);
    bind<MagvitTokenizer>(MAGVIT_TYPES.Tokenizer)
      .toDynamicValue((ctx) => tokenizerFromSource(ctx.get<MagvitSource>(MAGVIT_TYPES.Source)))
      .inSingletonScope()
      .onDeactivation((t) => t.dispose());
    bind<MagvitImageCodec>(MAGVIT_TYPES.ImageCodec).toConstantValue(defaultImageCodec);
    bind<MagvitTraining>(MAGVIT_TYPES.Training).toConstantValue(defaultTraining);
  });
}

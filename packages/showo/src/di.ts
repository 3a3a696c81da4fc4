import 'reflect-metadata';
import { Container, ContainerModule } from 'inversify';
import { runtimeModule, type BackendName } from '@showo/runtime';
import { promptingModule } from '@showo/prompting';
import { omniAttentionModule } from '@showo/omni-attention';
import { SHOWO_CORE_TYPES, showoCoreModule, type LoadOptions } from '@showo/showo-core';
import { MAGVIT_TYPES, magvitModule, type MagvitSource, type MagvitTokenizer } from '@showo/tokenizer-magvit';
import { SAMPLER_TYPES, magvitCodec, samplerModule, type ImageCodec } from '@showo/sampler';
import { TRAINER_TYPES, magvitImageEncoder, trainerModule, type ImageEncoder } from '@showo/trainer';
import type { GenerationDefaults, ModelBundle } from './bundle.js';

/** Service identifiers of `@showo/showo`. */
export const SHOWO_TYPES = {
  /** The {@link ModelBundle} the container was built for. */
  Bundle: Symbol.for('showo.showo.Bundle'),
  /** The bundle's {@link GenerationDefaults} (rebind to change what requests get by default). */
  GenerationDefaults: Symbol.for('showo.showo.GenerationDefaults'),
} as const;

/**
 * What the lower packages' modules leave to the application, bound from a bundle: the checkpoint folder and its
 * parsed config (showo-core), the tokenizer weights (tokenizer-magvit), the image codec of the pipelines
 * (sampler) and the image encoder of the data streams (trainer) — both over the one bound MAGVIT tokenizer.
 * Load it before `magvitModule`, which binds its own default source only when none is bound.
 */
export function showoModule(bundle: ModelBundle): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<ModelBundle>(SHOWO_TYPES.Bundle).toConstantValue(bundle);
    bind<GenerationDefaults>(SHOWO_TYPES.GenerationDefaults).toConstantValue(bundle.generation);
    bind<string>(SHOWO_CORE_TYPES.ModelDir).toConstantValue(bundle.showo.dir);
    bind<LoadOptions>(SHOWO_CORE_TYPES.LoadOptions).toConstantValue({ config: bundle.showo.config, weightsFile: bundle.showo.weightsFile });
    bind<MagvitSource>(MAGVIT_TYPES.Source).toConstantValue({ weights: bundle.magvit.weightsFile, config: bundle.magvit.config });
    bind<ImageCodec>(SAMPLER_TYPES.ImageCodec)
      .toDynamicValue((ctx) => magvitCodec(ctx.get<MagvitTokenizer>(MAGVIT_TYPES.Tokenizer)))
      .inSingletonScope();
    bind<ImageEncoder>(TRAINER_TYPES.ImageEncoder)
      .toDynamicValue((ctx) => magvitImageEncoder(ctx.get<MagvitTokenizer>(MAGVIT_TYPES.Tokenizer), { imageSize: bundle.imageSize }))
      .inSingletonScope();
  });
}

/** Options of {@link createShowoContainer}. */
export interface ShowoContainerOptions {
  /** Seed of the shared uniform source (`RUNTIME_TYPES.UniformSource`), default 0. */
  seed?: number;
  /** Backend name recorded in the container (`RUNTIME_TYPES.BackendName`); selecting it is `initBackend`'s job. */
  backend?: BackendName;
}

/**
 * A container with every package's module loaded for one bundle: runtime, prompting (layout, prompt formats and the
 * bundle's text tokenizer), omni-attention, showo-core (the model, loaded on first `getAsync`), tokenizer-magvit,
 * sampler (pipelines over the bundle's grid) and trainer. Nothing heavy happens until a service is resolved; rebind
 * any token first to swap a part.
 */
export function createShowoContainer(bundle: ModelBundle, options: ShowoContainerOptions = {}): Container {
  const container = new Container();
  container.load(
    showoModule(bundle),
    runtimeModule({ seed: options.seed ?? 0, backend: options.backend ?? 'auto' }),
    promptingModule({ layout: bundle.layoutOptions, config: bundle.prompting, tokenizer: bundle.text.tokenizer }),
    omniAttentionModule(),
    showoCoreModule,
    magvitModule(),
    samplerModule({ grid: bundle.grid }),
    trainerModule(),
  );
  return container;
}

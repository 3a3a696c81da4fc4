import { ContainerModule } from 'inversify';
import { RUNTIME_TYPES, type UniformSource } from '@showo/runtime';
import { PROMPTING_TYPES, type UniversalPrompting } from '@showo/prompting';
import { SHOWO_CORE_TYPES } from '@showo/showo-core';
import { AutoregressiveSampler, type AutoregressiveSamplerOptions } from './autoregressive.js';
import { MaskGitScheduler, type MaskGitSchedulerOptions } from './maskgit.js';
import { ShowoPipelines } from './pipelines/pipelines.js';
import type { CacheMode, ImageModel, TextModel } from './sessions.js';
import type { ImageCodec, TokenGrid } from './types.js';

/** Service identifiers of `@showo/sampler`. */
export const SAMPLER_TYPES = {
  /**
   * The transformer the pipelines run (async). Default: showo-core's model (`SHOWO_CORE_TYPES.Model`); rebind it
   * to plug in your own network (anything with `forward(ids, allow)`).
   */
  Model: Symbol.for('showo.sampler.Model'),
  /** Optional {@link ImageCodec} (e.g. `magvitCodec(tokenizer)`), bound by the application. */
  ImageCodec: Symbol.for('showo.sampler.ImageCodec'),
  /** Optional {@link PipelineOptions}. */
  PipelineOptions: Symbol.for('showo.sampler.PipelineOptions'),
  /** `(options) => MaskGitScheduler`. */
  MaskGitSchedulerFactory: Symbol.for('showo.sampler.MaskGitSchedulerFactory'),
  /** `(options) => AutoregressiveSampler`. */
  AutoregressiveSamplerFactory: Symbol.for('showo.sampler.AutoregressiveSamplerFactory'),
  /** {@link ShowoPipelines} bound to the model, prompting, codec and uniform source (async singleton). */
  Pipelines: Symbol.for('showo.sampler.Pipelines'),
} as const;

/** Pipeline settings an application may bind. */
export interface PipelineOptions {
  grid?: TokenGrid;
  maxPositions?: number;
  cache?: CacheMode;
}

export type MaskGitSchedulerFactory = (options: MaskGitSchedulerOptions) => MaskGitScheduler;
export type AutoregressiveSamplerFactory = (options: AutoregressiveSamplerOptions) => AutoregressiveSampler;

/** Options of {@link samplerModule}. */
export interface SamplerModuleOptions extends PipelineOptions {
  /** Binds {@link SAMPLER_TYPES.ImageCodec} (e.g. `magvitCodec(tokenizer)`). */
  codec?: ImageCodec;
}

/**
 * The sampler's container module: scheduler factories, the model (default: showo-core's), and the pipelines
 * object built from the model, `PROMPTING_TYPES.UniversalPrompting`, the optional codec and options, and
 * `RUNTIME_TYPES.UniformSource` when bound. Rebind {@link SAMPLER_TYPES.Model} to run your own transformer.
 */
export function samplerModule(options: SamplerModuleOptions = {}): ContainerModule {
  const { codec: boundCodec, ...pipelineOptions } = options;
  return new ContainerModule(({ bind }) => {
    bind<PipelineOptions>(SAMPLER_TYPES.PipelineOptions).toConstantValue(pipelineOptions);
    if (boundCodec) bind<ImageCodec>(SAMPLER_TYPES.ImageCodec).toConstantValue(boundCodec);
    bind<MaskGitSchedulerFactory>(SAMPLER_TYPES.MaskGitSchedulerFactory).toConstantValue((o) => new MaskGitScheduler(o));
    bind<AutoregressiveSamplerFactory>(SAMPLER_TYPES.AutoregressiveSamplerFactory).toConstantValue((o) => new AutoregressiveSampler(o));
    bind<ImageModel & TextModel>(SAMPLER_TYPES.Model).toDynamicValue((ctx) => ctx.getAsync<ImageModel & TextModel>(SHOWO_CORE_TYPES.Model));
    bind<ShowoPipelines>(SAMPLER_TYPES.Pipelines)
      .toDynamicValue(async (ctx) => {
        const model = await ctx.getAsync<ImageModel & TextModel>(SAMPLER_TYPES.Model);
        const options = ctx.get<PipelineOptions>(SAMPLER_TYPES.PipelineOptions, { optional: true }) ?? {};
        const codec = ctx.get<ImageCodec>(SAMPLER_TYPES.ImageCodec, { optional: true });
        const uniforms = ctx.get<UniformSource>(RUNTIME_TYPES.UniformSource, { optional: true });
        return new ShowoPipelines({
          model,
          prompting: ctx.get<UniversalPrompting>(PROMPTING_TYPES.UniversalPrompting),
          ...options,
          ...(codec ? { codec } : {}),
          ...(uniforms ? { uniforms } : {}),
        });
      })
      .inSingletonScope();
  });
}

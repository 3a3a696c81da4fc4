import { ContainerModule } from 'inversify';
import { PROMPTING_TYPES } from '@showo/prompting';
import type { UniversalPrompting } from '@showo/prompting';
import type { Observable } from 'rxjs';
import { CodeCache, type ImageEncoder } from './data/encoder.js';
import { AdamW, type AdamWConfig } from './optim/adamw.js';
import { runStage, type ExportEvent, type RunStageOptions } from './showo/stages.js';
import type { TrainEvent } from './types.js';

/** Injection tokens of `@showo/trainer`. */
export const TRAINER_TYPES = {
  /** The {@link ImageEncoder} data preparation tokenizes images with; bound by the application. */
  ImageEncoder: Symbol.for('showo.trainer.ImageEncoder'),
  /** A {@link CodeCache} around the bound encoder (singleton, shared by every stream). */
  CodeCache: Symbol.for('showo.trainer.CodeCache'),
  /** `(config) => AdamW`: how optimisers are made. */
  OptimizerFactory: Symbol.for('showo.trainer.OptimizerFactory'),
  /** {@link StageRunner}: runs a Show-o training stage with the bound prompting and encoder. */
  StageRunner: Symbol.for('showo.trainer.StageRunner'),
} as const;

/** Makes an optimiser from its hyper-parameters. */
export type OptimizerFactory = (config: AdamWConfig) => AdamW;

/** Runs training stages of the embedded Show-o (see {@link runStage}). */
export interface StageRunner {
  run(options: Omit<RunStageOptions, 'prompting' | 'encoder'>): Observable<TrainEvent | ExportEvent>;
}

/** Options of {@link trainerModule}: values to bind as constants (otherwise the application binds them). */
export interface TrainerModuleOptions {
  encoder?: ImageEncoder;
}

/**
 * The container module of `@showo/trainer`: the code cache over `TRAINER_TYPES.ImageEncoder`, the AdamW factory
 * and the stage runner (which also needs `PROMPTING_TYPES.UniversalPrompting` with a text tokenizer). The encoder
 * is bound from `options` when given, else by the application (e.g. `magvitImageEncoder(tokenizer)`).
 */
export function trainerModule(options: TrainerModuleOptions = {}): ContainerModule {
  return new ContainerModule(({ bind }) => {
    if (options.encoder) bind<ImageEncoder>(TRAINER_TYPES.ImageEncoder).toConstantValue(options.encoder);
    bind<CodeCache>(TRAINER_TYPES.CodeCache)
      .toDynamicValue((ctx) => new CodeCache(ctx.get<ImageEncoder>(TRAINER_TYPES.ImageEncoder)))
      .inSingletonScope();
    bind<OptimizerFactory>(TRAINER_TYPES.OptimizerFactory).toConstantValue((config) => new AdamW(config));
    bind<StageRunner>(TRAINER_TYPES.StageRunner)
      .toDynamicValue((ctx) => {
        const prompting = ctx.get<UniversalPrompting>(PROMPTING_TYPES.UniversalPrompting);
        const encoder = ctx.get<CodeCache>(TRAINER_TYPES.CodeCache);
        return { run: (o) => runStage({ ...o, prompting, encoder }) };
      })
      .inSingletonScope();
  });
}

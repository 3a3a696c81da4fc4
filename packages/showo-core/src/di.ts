import { ContainerModule } from 'inversify';
import type { LoadOptions } from './checkpoint.js';
import type { ShowoConfig } from './config.js';
import { ShowoModel } from './model.js';

/** How the container obtains a model; rebind {@link SHOWO_CORE_TYPES.ModelLoader} to e.g. share or cache models. */
export interface ShowoModelLoader {
  load(dir: string, options?: LoadOptions): Promise<ShowoModel>;
  random(config: ShowoConfig, seed?: number): ShowoModel;
}

/** Service identifiers of `@showo/showo-core`. */
export const SHOWO_CORE_TYPES = {
  /** Checkpoint folder (`config.json` + safetensors); bound by the application. */
  ModelDir: Symbol.for('showo.showo-core.ModelDir'),
  /** Optional {@link LoadOptions} for the default model binding. */
  LoadOptions: Symbol.for('showo.showo-core.LoadOptions'),
  /** {@link ShowoModelLoader} (default: `ShowoModel.load` / `ShowoModel.random`). */
  ModelLoader: Symbol.for('showo.showo-core.ModelLoader'),
  /** The {@link ShowoModel}, loaded from `ModelDir` (async singleton: `await container.getAsync(...)`; disposed on unbind). */
  Model: Symbol.for('showo.showo-core.Model'),
} as const;

/** The default loader: the static constructors of {@link ShowoModel}. */
export const defaultModelLoader: ShowoModelLoader = {
  load: (dir, options) => ShowoModel.load(dir, options),
  random: (config, seed) => ShowoModel.random(config, seed),
};

/**
 * Binds the defaults of `@showo/showo-core`: the loader, and the model as an async singleton loaded from the
 * application's `ModelDir` binding. Injection stays here; the model itself takes plain arguments.
 */
export const showoCoreModule = new ContainerModule(({ bind }) => {
  bind<ShowoModelLoader>(SHOWO_CORE_TYPES.ModelLoader).toConstantValue(defaultModelLoader);
  bind<ShowoModel>(SHOWO_CORE_TYPES.Model)
    .toDynamicValue(async (ctx) => {
      const loader = ctx.get<ShowoModelLoader>(SHOWO_CORE_TYPES.ModelLoader);
      const options = ctx.get<LoadOptions>(SHOWO_CORE_TYPES.LoadOptions, { optional: true });
      return loader.load(ctx.get<string>(SHOWO_CORE_TYPES.ModelDir), options);
    })
    .inSingletonScope()
    .onDeactivation((model) => model.dispose());
});

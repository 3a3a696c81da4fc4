import { ContainerModule } from 'inversify';
import { TokenLayout, type TokenLayoutOptions } from './layout.js';
import { UniversalPrompting, type PromptingConfig } from './prompts.js';
import { TaskRegistry } from './registry.js';
import type { TextTokenizer } from './types.js';

/** Service identifiers of `@showo/prompting`. */
export const PROMPTING_TYPES = {
  /** {@link TextTokenizer}; bound by the application (word tokenizer or Phi's), optional for id-only use. */
  TextTokenizer: Symbol.for('showo.prompting.TextTokenizer'),
  /** {@link TokenLayoutOptions}; bound by the application (from the model config). */
  TokenLayoutOptions: Symbol.for('showo.prompting.TokenLayoutOptions'),
  /** {@link PromptingConfig}; bound by the application (from the model config). */
  PromptingConfig: Symbol.for('showo.prompting.PromptingConfig'),
  /** {@link TokenLayout}, built from `TokenLayoutOptions` (singleton). */
  TokenLayout: Symbol.for('showo.prompting.TokenLayout'),
  /** {@link UniversalPrompting} (singleton). */
  UniversalPrompting: Symbol.for('showo.prompting.UniversalPrompting'),
  /** {@link TaskRegistry} with the builtin tasks (singleton); plugins register on it. */
  TaskRegistry: Symbol.for('showo.prompting.TaskRegistry'),
} as const;

/** Options of {@link promptingModule}: values to bind as constants (otherwise the application binds them). */
export interface PromptingModuleOptions {
  layout?: TokenLayoutOptions;
  config?: PromptingConfig;
  tokenizer?: TextTokenizer;
}

/**
 * The container module of `@showo/prompting`: the token layout, the prompt builders and the task registry, all
 * singletons built from the `TokenLayoutOptions`, `PromptingConfig` and (optional) `TextTokenizer` bindings —
 * bound here from `options` where given, else by the application. Rebind any service to swap a part.
 */
export function promptingModule(options: PromptingModuleOptions = {}): ContainerModule {
  return new ContainerModule(({ bind }) => {
    if (options.layout) bind<TokenLayoutOptions>(PROMPTING_TYPES.TokenLayoutOptions).toConstantValue(options.layout);
    if (options.config) bind<PromptingConfig>(PROMPTING_TYPES.PromptingConfig).toConstantValue(options.config);
    if (options.tokenizer) bind<TextTokenizer>(PROMPTING_TYPES.TextTokenizer).toConstantValue(options.tokenizer);
    bind<TokenLayout>(PROMPTING_TYPES.TokenLayout)
      .toDynamicValue((ctx) => new TokenLayout(ctx.get<TokenLayoutOptions>(PROMPTING_TYPES.TokenLayoutOptions)))
      .inSingletonScope();
    bind<UniversalPrompting>(PROMPTING_TYPES.UniversalPrompting)
      .toDynamicValue(
        (ctx) =>
          new UniversalPrompting(
            ctx.get<TokenLayout>(PROMPTING_TYPES.TokenLayout),
            ctx.get<PromptingConfig>(PROMPTING_TYPES.PromptingConfig),
            ctx.get<TextTokenizer>(PROMPTING_TYPES.TextTokenizer, { optional: true }),
          ),
      )
      .inSingletonScope();
    bind<TaskRegistry>(PROMPTING_TYPES.TaskRegistry)
      .toDynamicValue((ctx) => new TaskRegistry(ctx.get<UniversalPrompting>(PROMPTING_TYPES.UniversalPrompting)))
      .inSingletonScope();
  });
}

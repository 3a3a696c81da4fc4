import { ContainerModule } from 'inversify';
import { PROMPTING_TYPES, type RegisteredTask, type TaskRegistry } from '@showo/prompting';
import { registerCountTask, type CountInput } from './task.js';

/** Service identifiers of `@showo/plugin-count`. */
export const PLUGIN_COUNT_TYPES = {
  /** The count task, registered on the container's `PROMPTING_TYPES.TaskRegistry` when first resolved. */
  CountTask: Symbol.for('showo.plugin-count.CountTask'),
} as const;

/**
 * The plugin's container module: resolving {@link PLUGIN_COUNT_TYPES.CountTask} registers `<|count|>` on the
 * application's task registry (once: singleton). Resolve it before building the model from the token layout, so
 * the vocabulary includes the plugin's row.
 */
export function countPluginModule(): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<RegisteredTask<CountInput>>(PLUGIN_COUNT_TYPES.CountTask)
      .toDynamicValue((ctx) => registerCountTask(ctx.get<TaskRegistry>(PROMPTING_TYPES.TaskRegistry)))
      .inSingletonScope();
  });
}

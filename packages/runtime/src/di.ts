import { ContainerModule } from 'inversify';
import type { BackendName } from './backend.js';
import { SeededRandom, type UniformSource } from './random.js';

/** Injection tokens of `@showo/runtime`. */
export const RUNTIME_TYPES = {
  /** The {@link UniformSource} every sampler and trainer draws from (default: `SeededRandom(seed)`). */
  UniformSource: Symbol.for('showo.runtime.UniformSource'),
  /** The requested backend name (`'auto'` by default); apps pass it to `initBackend`. */
  BackendName: Symbol.for('showo.runtime.BackendName'),
  /** The seed the default uniform source was made from. */
  Seed: Symbol.for('showo.runtime.Seed'),
} as const;

/** Options of {@link runtimeModule}. */
export interface RuntimeModuleOptions {
  seed?: number;
  backend?: BackendName;
}

/**
 * The runtime's container module: binds the seed, the requested backend and a seeded uniform source. Rebind
 * `RUNTIME_TYPES.UniformSource` to inject recorded uniforms.
 */
export function runtimeModule(options: RuntimeModuleOptions = {}): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<number>(RUNTIME_TYPES.Seed).toConstantValue(options.seed ?? 0);
    bind<BackendName>(RUNTIME_TYPES.BackendName).toConstantValue(options.backend ?? 'auto');
    bind<UniformSource>(RUNTIME_TYPES.UniformSource)
      .toDynamicValue((ctx) => new SeededRandom(ctx.get<number>(RUNTIME_TYPES.Seed)))
      .inSingletonScope();
  });
}

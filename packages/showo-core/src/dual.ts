/**
 * A {@link DualEngine} for a {@link ShowoModel}: its weights on the main thread (borrowed) and mirrored into a
 * worker, running showo-core's engine module (`engine.ts`: prefix cache and image logits, one branch of
 * classifier-free guidance per engine). The sampler's `withDualEngine` drives it.
 */
import { DualEngine, type DualEngineOptions } from '@showo/runtime';
import type { ShowoModel } from './model.js';

/**
 * URL of showo-core's engine module (`engine.ts` next to the sources when they run through tsx, `dist/engine.js`
 * when built): what {@link createShowoEngine} passes to `DualEngine.create`.
 */
export const SHOWO_ENGINE_MODULE: URL = new URL(new URL(import.meta.url).pathname.endsWith('.ts') ? './engine.ts' : './engine.js', import.meta.url);

/** Options of {@link createShowoEngine}: those of `DualEngine.create` except the module. */
export type ShowoDualEngineOptions = Omit<DualEngineOptions, 'module'>;

/**
 * Starts a {@link DualEngine} on showo-core's engine module and registers the model's weights (by official name;
 * the worker gets one copy, the main thread uses the model's own tensors — keep the model alive and dispose the
 * engine before it). With 2 workers this takes seconds (a fresh wasm instance): create one and keep it.
 */
export async function createShowoEngine(model: ShowoModel, options: ShowoDualEngineOptions = {}): Promise<DualEngine> {
  const engine = await DualEngine.create({ ...options, module: SHOWO_ENGINE_MODULE });
  try {
    await engine.setWeights(Object.fromEntries(model.namedVariables()));
  } catch (e) {
    await engine.dispose();
    throw e;
  }
  return engine;
}

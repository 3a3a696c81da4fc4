import { createShowo, defaultModelDir, ModelBundleError, resolveModelBundle, MODEL_ENV, type ModelBundle, type Showo } from '@showo/showo';
import { modelRequest, type CliContext, type ModelFlags } from './context.js';

/** Whether the model folder is the default (no `--model`), for a friendlier message when it is missing. */
function isDefault(flags: Pick<ModelFlags, 'model'>): boolean {
  return flags.model === undefined;
}

/**
 * The bundle of `--model` (or the default). A missing default gets a message saying how to provide one; every
 * other problem is the bundle's own one-line error.
 */
export function resolveBundle(flags: Pick<ModelFlags, 'model'>): ModelBundle {
  const dir = flags.model ?? defaultModelDir();
  try {
    return resolveModelBundle(dir);
  } catch (e) {
    if (e instanceof ModelBundleError && e.problem === 'NOT_FOUND' && isDefault(flags)) {
      throw new ModelBundleError(
        'NOT_FOUND',
        e.dir,
        `no model: the embedded Shapes World model is not installed at ${e.dir}; pass --model DIR or set ${MODEL_ENV}`,
      );
    }
    throw e;
  }
}

/** Loads the model of the flags, reporting the backend choice on stderr (stdout stays for results). */
export async function openShowo(ctx: CliContext, flags: ModelFlags, bundle?: ModelBundle): Promise<Showo> {
  return createShowo({ model: bundle ?? resolveBundle(flags), ...modelRequest(flags), log: (l) => ctx.err(l) });
}

/** Runs `body` with a loaded model and frees it afterwards, whatever happens. */
export async function withShowo<T>(ctx: CliContext, flags: ModelFlags, body: (showo: Showo) => Promise<T>, bundle?: ModelBundle): Promise<T> {
  const showo = await openShowo(ctx, flags, bundle);
  try {
    return await body(showo);
  } finally {
    await showo.dispose();
  }
}

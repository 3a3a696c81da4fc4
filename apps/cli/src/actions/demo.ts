import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '@showo/runtime';
import { ModelBundleError, writePngFile } from '@showo/showo';
import type { DemoFlags } from '../commands/demo.js';
import { t2iRequest, type CliContext } from '../context.js';
import { writeJsonFile } from '../io.js';
import { resolveBundle, withShowo } from '../model.js';
import { ProgressBar } from '../progress.js';

/** The backend + tensor check: what the demo falls back to when there is no model. */
async function tensorCheck(ctx: CliContext, backend: BackendName): Promise<void> {
  const choice = await initBackend(backend, { log: (l) => ctx.out(l) });
  const before = tf.memory().numTensors;
  const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]])));
  const values = [...(await y.data())];
  y.dispose();
  const ok = values[0] === 17 && values[1] === 39 && tf.memory().numTensors === before;
  ctx.out(`tensor check on ${choice.name}: [[1,2],[3,4]]·[5,6]ᵀ = [${values.join(', ')}] ${ok ? 'ok' : 'WRONG'}`);
  if (!ok) ctx.fail();
}

/** The action of `showo demo` (see `commands/demo.ts`). */
export async function demo(ctx: CliContext, flags: DemoFlags): Promise<void> {
  let bundle;
  try {
    bundle = resolveBundle(flags);
  } catch (e) {
    // Only a missing default model falls back; a --model that is wrong is the user's error to see.
    if (!(e instanceof ModelBundleError) || flags.model !== undefined) throw e;
    ctx.out(
      e.problem === 'NOT_FOUND'
        ? `the embedded Shapes World model is not installed at ${e.dir} (pass --model DIR or set SHOWO_MODEL); running the backend check instead`
        : `the embedded model is not usable (${e.message}); running the backend check instead`,
    );
    await tensorCheck(ctx, flags.backend);
    return;
  }
  const t0 = Date.now();
  const result = await withShowo(
    ctx,
    flags,
    async (showo) => {
      const request = t2iRequest(flags);
      const steps = request.steps ?? showo.defaults.t2i.steps;
      const bar = new ProgressBar('t2i', steps, ctx.io.stderr);
      const t1 = Date.now();
      const image = await showo
        .t2i(flags.prompt, request)
        .image((e) => e.type === 'step' && bar.update(e.step + 1))
        .finally(() => bar.stop());
      const t2iMs = Date.now() - t1;
      const t3 = Date.now();
      const answer = await showo.answer(image, flags.question, { seed: flags.seed }).answer();
      return { image, answer, t2iMs, mmuMs: Date.now() - t3, steps, backend: showo.backend.name };
    },
    bundle,
  );
  const png = path.join(flags.out, 'demo.png');
  const json = path.join(flags.out, 'demo.json');
  writePngFile(png, result.image);
  writeJsonFile(json, {
    prompt: flags.prompt,
    image: 'demo.png',
    question: flags.question,
    answer: result.answer,
    model: bundle.dir,
    backend: result.backend,
    seed: flags.seed,
    steps: result.steps,
    ms: { t2i: result.t2iMs, answer: result.mmuMs, total: Date.now() - t0 },
  });
  ctx.out(`"${flags.prompt}" → ${png}`);
  ctx.out(`"${flags.question}" → ${result.answer}`);
  ctx.out(`wrote ${png} and ${json}`);
}

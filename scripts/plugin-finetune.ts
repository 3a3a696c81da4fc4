// Fine-tunes the embedded Shapes World model on the `<|count|>` plugin task (@showo/plugin-count): registers the
// task token, grows the embedding / lm_head by one row (existing rows kept), trains with @showo/trainer's loop on
// random scenes, and reports count accuracy before and after on fresh scenes (held-out compositions included).
//
//   node --import tsx scripts/plugin-finetune.ts [--model models/shapes-world] [--out runs/plugin-count]
//        [--steps 300] [--lr 1e-3] [--batch 16] [--seed 0] [--eval-n 100] [--backend auto]
//
// Writes <out>/model/ (config.json, model.safetensors, plugins.json: load it with ShowoModel.load + attachPlugins
// with the manifest), <out>/metrics.jsonl and <out>/checkpoints/ (re-running resumes). The original model folder
// is never touched.
import fs from 'node:fs';
import path from 'node:path';
import { SeededRandom, initBackend, type BackendName } from '@showo/runtime';
import { TaskRegistry, TokenLayout, UniversalPrompting } from '@showo/prompting';
import { randomScene, renderScene } from '@showo/shapes-world';
import { magvitImageEncoder } from '@showo/trainer';
import { defaultModelDir, loadModelBundle } from '@showo/showo';
import { attachPlugins, countObjects, countResult, fineTuneCount, registerCountTask, savePluginModel } from '@showo/plugin-count';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}

async function main(): Promise<void> {
  const modelDir = path.resolve(arg('model', defaultModelDir()));
  if (!fs.existsSync(modelDir)) {
    console.error(`plugin-finetune: no model at ${modelDir} (the embedded model is not trained yet, or pass --model DIR)`);
    process.exitCode = 2;
    return;
  }
  const out = path.resolve(arg('out', 'runs/plugin-count'));
  const steps = Number(arg('steps', '300'));
  const evalN = Number(arg('eval-n', '100'));
  await initBackend(arg('backend', 'auto') as BackendName, { log: (l) => console.error(l) });
  const loaded = await loadModelBundle(modelDir);
  const { bundle, model, magvit } = loaded;
  try {
    // The plugin meets the checkpoint: a registry over the bundle's layout, the task registered, rows grown.
    const layout = new TokenLayout(bundle.layoutOptions);
    const prompting = new UniversalPrompting(layout, bundle.prompting, bundle.text.tokenizer);
    const registry = new TaskRegistry(prompting);
    registerCountTask(registry);
    const added = attachPlugins(model, layout, { rng: new SeededRandom(Number(arg('seed', '0'))) });
    console.error(`registered <|count|> as id ${layout.special('<|count|>')}; grew the vocabulary by ${added} row(s) to ${model.config.vocab_size}`);

    const encoder = magvitImageEncoder(magvit, { imageSize: bundle.imageSize });
    const evalRng = new SeededRandom(12345);
    const scenes = Array.from({ length: evalN }, () => randomScene(evalRng, { allowHeldOut: true }));
    const codes = await encoder.encode(scenes.map((s) => renderScene(s, bundle.imageSize)), bundle.imageSize);
    const accuracy = async (): Promise<number> => {
      let right = 0;
      for (let i = 0; i < scenes.length; i += 25) {
        const part = codes.slice(i, i + 25);
        const r = await countResult(countObjects({ model, registry }, { images: part.map((c) => ({ codes: c })) }));
        r!.counts.forEach((c, k) => (right += c === scenes[i + k]!.objects.length ? 1 : 0));
      }
      return right / scenes.length;
    };
    console.log(`count accuracy before fine-tuning: ${(100 * (await accuracy())).toFixed(1)}% (${evalN} fresh scenes)`);

    fs.mkdirSync(out, { recursive: true });
    const t0 = Date.now();
    await new Promise<void>((resolve, reject) =>
      fineTuneCount({
        model,
        registry,
        encoder,
        steps,
        lr: Number(arg('lr', '1e-3')),
        batch: Number(arg('batch', '16')),
        seed: Number(arg('seed', '0')),
        checkpoint: { dir: path.join(out, 'checkpoints'), everySteps: 50, keepLast: 2, resume: true, fingerprint: `plugin-count:${model.config.vocab_size}` },
        metricsLog: path.join(out, 'metrics.jsonl'),
      }).subscribe({
        next: (e) => {
          if (e.type === 'step' && (e.step % 10 === 0 || e.step === steps)) console.error(`step ${e.step}/${steps} loss ${e.loss.toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
        },
        error: reject,
        complete: resolve,
      }),
    );
    console.log(`count accuracy after ${steps} steps: ${(100 * (await accuracy())).toFixed(1)}%`);
    await savePluginModel(model, path.join(out, 'model'), layout);
    console.log(`saved ${path.join(out, 'model')} (with plugins.json)`);
  } finally {
    loaded.dispose();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});

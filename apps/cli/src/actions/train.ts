import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { initBackend } from '@showo/runtime';
import { ShowoModel } from '@showo/showo-core';
import { TRAINER_TYPES, builtinStageConfig, findLatestCheckpoint, parseStageConfig, type StageConfig, type StageRunner } from '@showo/trainer';
import { createShowoContainer, resolveModelBundle, type ModelBundle } from '@showo/showo';
import type { TrainFlags } from '../commands/train.js';
import type { CliContext } from '../context.js';
import { CliInputError, UsageError } from '../errors.js';
import { readTextFile } from '../io.js';
import { resolveBundle } from '../model.js';
import { ProgressBar, formatDuration } from '../progress.js';

function loadConfig(flags: TrainFlags, cmd: Command): StageConfig {
  if (flags.config === undefined) {
    if (flags.stage === undefined) throw new UsageError('give --stage 1|2|3 (the shipped config) or --config FILE', cmd);
    return builtinStageConfig(flags.stage);
  }
  let json: unknown;
  try {
    json = JSON.parse(readTextFile(flags.config, 'stage config'));
  } catch (e) {
    if (e instanceof CliInputError) throw e;
    throw new CliInputError(`${flags.config}: not valid JSON (${(e as Error).message})`);
  }
  const config = parseStageConfig(json, flags.config);
  if (flags.stage !== undefined && flags.stage !== config.stage) throw new UsageError(`--stage ${flags.stage} but ${flags.config} is a stage ${config.stage} config`, cmd);
  return config;
}

/**
 * A complete embedded-layout model folder from a finished stage: the exported transformer, and the text and
 * image tokenizers and config extras (text tokenizer, generation defaults) of the folder it was trained with.
 */
function assembleBundle(template: ModelBundle, exported: string, dir: string): void {
  if (template.layout !== 'embedded') throw new CliInputError(`--bundle needs an embedded-layout --model to take the tokenizers from, ${template.dir} is ${template.layout}`);
  const showo = path.join(dir, 'showo');
  const magvit = path.join(dir, 'magvit');
  fs.mkdirSync(showo, { recursive: true });
  fs.mkdirSync(magvit, { recursive: true });
  fs.copyFileSync(path.join(exported, 'model.safetensors'), path.join(showo, 'model.safetensors'));
  // Same architecture as the template (the model was created from its config), so its config.json applies as is.
  fs.copyFileSync(template.showo.configFile, path.join(showo, 'config.json'));
  fs.copyFileSync(template.text.path, path.join(showo, path.relative(template.showo.dir, template.text.path)));
  fs.copyFileSync(template.magvit.configFile, path.join(magvit, 'config.json'));
  fs.copyFileSync(template.magvit.weightsFile, path.join(magvit, path.basename(template.magvit.weightsFile)));
  resolveModelBundle(dir); // refuse to report success for a folder that would not load
}

/** The action of `showo train` (see `commands/train.ts`). */
export async function train(ctx: CliContext, cmd: Command, flags: TrainFlags): Promise<void> {
  const config = loadConfig(flags, cmd);
  const template = resolveBundle(flags);
  const ckptDir = path.resolve(flags.out, config.output, 'checkpoints');
  if (!flags.resume && findLatestCheckpoint(ckptDir)) {
    throw new UsageError(`${ckptDir} already holds checkpoints of this stage: pass --resume to continue, or choose another --out`, cmd);
  }
  await initBackend(flags.backend, { log: (l) => ctx.err(l) });
  const container = createShowoContainer(template, { seed: config.seed, backend: flags.backend });
  const model = ShowoModel.random(template.showo.config, config.seed);
  const ac = new AbortController();
  const onSignal = () => {
    ctx.err('\nshowo: stopping after this step (a checkpoint is written; continue with --resume)');
    ac.abort();
  };
  process.once('SIGINT', onSignal);
  let bar: ProgressBar | undefined;
  let exported: string | undefined;
  let end: { step: number; reason: string; elapsedMs: number } | undefined;
  try {
    const runner = container.get<StageRunner>(TRAINER_TYPES.StageRunner);
    await new Promise<void>((resolve, reject) => {
      runner
        .run({ config, model, runsDir: flags.out, resume: Boolean(flags.resume), signal: ac.signal, ...(flags.totalSteps !== undefined ? { totalSteps: flags.totalSteps } : {}) })
        .subscribe({
          next: (e) => {
            if (e.type === 'start') {
              ctx.err(`${config.name}: ${e.parameters.toLocaleString('en-US')} parameters, steps ${e.step}→${e.totalSteps}${e.resumedFrom ? ` (resumed from ${e.resumedFrom})` : ''}`);
              bar = new ProgressBar(`stage ${config.stage}`, e.totalSteps, ctx.io.stderr);
              bar.update(e.step);
            } else if (e.type === 'step') {
              bar?.update(e.step, `loss ${e.loss.toFixed(4)} lr ${e.lr.toExponential(2)} eta ${formatDuration(e.etaMs)}${e.skipped ? ' (skipped)' : ''}`);
            } else if (e.type === 'export') exported = e.path;
            else if (e.type === 'done') end = e;
          },
          error: reject,
          complete: resolve,
        });
    });
  } finally {
    bar?.stop();
    process.removeListener('SIGINT', onSignal);
    model.dispose();
    await container.unbindAllAsync();
  }
  if (!end || end.reason !== 'completed') {
    ctx.out(`${config.name}: stopped at step ${end?.step ?? '?'}; continue with --resume`);
    ctx.fail();
    return;
  }
  ctx.out(`${config.name}: completed ${end.step} steps in ${formatDuration(end.elapsedMs)}${exported ? `; model → ${exported}` : ''}`);
  if (flags.bundle && exported) {
    assembleBundle(template, exported, flags.bundle);
    ctx.out(`model folder → ${flags.bundle}`);
  }
}

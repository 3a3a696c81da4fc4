import { InvalidArgumentError as CommanderArgumentError, type Command } from 'commander';
import type { BackendName } from '@showo/runtime';
import { parsers, type CliContext } from '../context.js';

export interface TrainFlags {
  stage?: 1 | 2 | 3;
  config?: string;
  out: string;
  resume?: boolean;
  model?: string;
  backend: BackendName;
  totalSteps?: number;
  bundle?: string;
}

function stageNumber(v: string): 1 | 2 | 3 {
  if (v !== '1' && v !== '2' && v !== '3') throw new CommanderArgumentError(`--stage expects 1, 2 or 3, got "${v}"`);
  return Number(v) as 1 | 2 | 3;
}

/**
 * `showo train --stage N [--config FILE] --out DIR [--resume]`: runs one training stage through the trainer's
 * stage runner, with a progress bar showing loss and ETA. The architecture, the word vocabulary and the image
 * tokenizer come from `--model` (default: the embedded model folder); the weights start random (stage 1), from the
 * previous stage's result (stages 2, 3) or from this stage's newest checkpoint (`--resume`). Ctrl-C stops after
 * the current step with a checkpoint, so `--resume` continues exactly.
 */
export function trainCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('train')
    .description('run a training stage (1: class-conditional, 2: captions, 3: questions and how-to)')
    .option('--stage <n>', 'stage 1, 2 or 3 (the shipped config unless --config)', stageNumber)
    .option('--config <file>', 'a stage config JSON (see packages/trainer/configs)')
    .option('--out <dir>', 'runs folder: <out>/<stage output>/{checkpoints,metrics.jsonl,loss.png,model}', 'runs')
    .option('--resume', "continue from this stage's newest checkpoint")
    .option('--total-steps <n>', "override the config's totalSteps (e.g. a short run)", parsers.positiveInt('--total-steps'))
    .option('--bundle <dir>', 'when the stage completes, also write a complete model folder here')
    .option('--model <dir>', 'model folder giving architecture, vocabulary and image tokenizer (default: $SHOWO_MODEL or the embedded model)')
    .option('--backend <name>', 'tensor backend (auto, tensorflow, wasm, cpu)', 'auto');
  cmd.action(async (flags: TrainFlags) => {
    const { train } = await import('../actions/train.js');
    await train(ctx, cmd, flags);
  });
}

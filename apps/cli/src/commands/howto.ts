import path from 'node:path';
import type { Command } from 'commander';
import type { HowtoEvent } from '@showo/sampler';
import { writePngFile, type HowtoStream } from '@showo/showo';
import { commonOptions, parsers, samplingRequest, type CliContext, type ModelFlags, type SamplingFlags } from '../context.js';
import { withShowo } from '../model.js';
import { ProgressBar } from '../progress.js';

/** Runs a how-to stream with a progress bar over every keyframe's MaskGIT steps; resolves with the result. */
export async function runHowto(ctx: CliContext, stream: HowtoStream) {
  let bar: ProgressBar | undefined;
  let per = 1;
  try {
    return await stream.result((e: HowtoEvent) => {
      if (e.type === 'start') {
        per = e.denoisingSteps;
        bar = new ProgressBar('howto', e.plannedSteps * per, ctx.io.stderr);
      } else if (e.type === 'denoise') bar?.update(e.step * per + e.denoise + 1, `step ${e.step + 1}`);
    });
  } finally {
    bar?.stop();
  }
}

interface HowtoFlags extends ModelFlags, SamplingFlags {
  step?: string[];
  out?: string;
  maxSteps?: number;
}

/** `showo howto "how do i build …?" [--step TEXT]… --out DIR`: keyframes (guided) or steps and keyframes (free). */
export function howtoCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('howto')
    .description('draw a how-to sequence: guided (step texts given) or free (the model writes the steps)')
    .argument('<question>', 'e.g. "how do i build a red circle and a blue square?"')
    .option('--step <text...>', 'step texts in order (guided mode), e.g. "step 1: place a red circle on the left."')
    .option('--max-steps <n>', 'free mode: most steps', parsers.positiveInt('--max-steps'))
    .option('--out <dir>', 'folder for step-<n>.png (default out/howto)');
  commonOptions(cmd).action(async (question: string, flags: HowtoFlags) => {
    const dir = flags.out ?? path.join('out', 'howto');
    const result = await withShowo(ctx, flags, (showo) =>
      runHowto(ctx, showo.howto(question, flags.step, { ...samplingRequest(flags), ...(flags.maxSteps !== undefined ? { maxSteps: flags.maxSteps } : {}) })),
    );
    result.steps.forEach((s, k) => {
      const file = path.join(dir, `step-${k + 1}.png`);
      if (s.image) writePngFile(file, s.image);
      ctx.out(`${s.text ?? `(step ${k + 1})`}  → ${s.image ? file : '(no image)'}`);
    });
  });
}

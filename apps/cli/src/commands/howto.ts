import type { Command } from 'commander';
import { commonOptions, parsers, type CliContext, type ModelFlags, type SamplingFlags } from '../context.js';

// The page and storyboard helpers live in a module of their own (no tensor library); tests use them from here.
export { howtoHtml, storyboard } from '../howto-page.js';

export interface HowtoFlags extends ModelFlags, SamplingFlags {
  guided?: string;
  step?: string[];
  out?: string;
  maxSteps?: number;
  maxStepTokens?: number;
  limit?: number;
  scale: number;
  maxPositions?: number;
}

/**
 * `showo howto "how do i build …?"` — free mode: the model writes the steps and draws each keyframe; writes
 * `step-<n>.png`, `storyboard.png` and `index.html` under `--out` (default `out/howto`). `--step TEXT…` gives the
 * step texts (guided). `showo howto --guided FILE.jsonl --out DIR` — guided mode over a how-to file:
 * `DIR/<id>/step-<n>.png` (n from 1) and the detector's step and sequence accuracy.
 */
export function howtoCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('howto')
    .description('draw a how-to sequence: free (the model writes the steps) or guided (step texts given, or a howto-*.jsonl file)')
    .argument('[question]', 'e.g. "how do i build a red circle and a blue square?"')
    .option('--guided <file>', 'guided mode over a how-to file (howto-*.jsonl): <out>/<id>/step-<n>.png')
    .option('--step <text...>', 'step texts in order (guided mode for one question)')
    .option('--max-steps <n>', 'free mode: most steps (default 3)', parsers.positiveInt('--max-steps'))
    .option('--max-step-tokens <n>', 'free mode: most tokens of one step text', parsers.positiveInt('--max-step-tokens'))
    .option('--limit <n>', 'with --guided: only the first n items', parsers.positiveInt('--limit'))
    .option('--scale <k>', 'storyboard upscaling factor', parsers.positiveInt('--scale'), 4)
    .option('--max-positions <n>', 'position budget of a sequence (default: what the sequences need, at least the config\'s)', parsers.positiveInt('--max-positions'))
    .option('--out <dir>', 'output folder (default out/howto)');
  commonOptions(cmd).action(async (question: string | undefined, flags: HowtoFlags) => {
    const { howto } = await import('../actions/howto.js');
    await howto(ctx, cmd, question, flags);
  });
}

import type { Command } from 'commander';
import { commonOptions, rerankOption, type CliContext, type ModelFlags, type SamplingFlags } from '../context.js';

export interface DemoFlags extends ModelFlags, SamplingFlags {
  prompt: string;
  question: string;
  out: string;
}

/**
 * `showo demo` (what `npm start` runs): draws an image for a prompt, answers a question about it, writes
 * `out/demo.png` and `out/demo.json`. Without the embedded model it says so in one line and runs the backend check.
 */
export function demoCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('demo')
    .description('draw an image, answer a question about it (writes out/demo.png, out/demo.json)')
    .option('--prompt <text>', 'what to draw', 'a red circle')
    .option('--question <text>', 'what to ask about it', 'what color is the circle?')
    .option('--out <dir>', 'output folder', 'out');
  rerankOption(commonOptions(cmd)).action(async (flags: DemoFlags) => {
    const { demo } = await import('../actions/demo.js');
    await demo(ctx, flags);
  });
}

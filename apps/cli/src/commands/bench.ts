import type { Command } from 'commander';
import { modelOptions, parsers, type CliContext, type ModelFlags } from '../context.js';

export interface BenchFlags extends ModelFlags {
  json?: boolean;
  repeat: number;
  quick?: boolean;
}

/**
 * `showo bench`: the repository's `scripts/bench.ts` when present (its table, or `--json`), else a short timing of
 * the model: milliseconds per MaskGIT step (text-to-image) and per decoded token (understanding).
 */
export function benchCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('bench')
    .description('benchmarks: scripts/bench.ts when present, else a short timing of the model')
    .option('--json', 'one JSON object instead of a table')
    .option('--quick', 'skip scripts/bench.ts and time the model')
    .option('--repeat <n>', 'timed runs (short timing)', parsers.positiveInt('--repeat'), 3);
  modelOptions(cmd).action(async (flags: BenchFlags) => {
    const { bench } = await import('../actions/bench.js');
    await bench(ctx, flags);
  });
}

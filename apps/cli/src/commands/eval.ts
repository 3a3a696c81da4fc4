import type { Command } from 'commander';
import { commonOptions, rerankOption, parsers, type CliContext, type ModelFlags, type SamplingFlags } from '../context.js';

export interface EvalFlags extends ModelFlags, SamplingFlags {
  t2i?: string;
  images?: string;
  mmu?: string;
  answers?: string;
  howto?: string;
  keyframes?: string;
  save?: string;
  json?: boolean;
  batch: number;
  limit?: number;
  minAccuracy?: number;
}

/**
 * `showo eval`: scores Shapes World files with the SPEC detector — given outputs (`--images`, `--answers`,
 * `--keyframes`) or outputs the model generates on the fly — as per-tag tables or one JSON object.
 */
export function evalCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('eval')
    .description('score Shapes World t2i / mmu / how-to files (given outputs, or generated with the model)')
    .option('--t2i <file>', 'generation file (t2i-*.jsonl)')
    .option('--images <dir>', 'generated images for --t2i: <dir>/<id>.png (default: generate them with the model)')
    .option('--mmu <file>', 'understanding file (mmu-*.jsonl)')
    .option('--answers <file>', 'answers for --mmu: {"id", "answer"} per line (default: answer with the model)')
    .option('--howto <file>', 'how-to file (howto-*.jsonl), scored in guided mode')
    .option('--keyframes <dir>', 'keyframes for --howto: <dir>/<id>-<n>.png or <dir>/<id>/step-<n>.png, n from 1 (default: generate them)')
    .option('--save <dir>', 'keep what the model generated: <dir>/t2i/<id>.png, <dir>/answers.jsonl, <dir>/howto/<id>-<step>.png')
    .option('--limit <n>', 'only the first n items of each file', parsers.positiveInt('--limit'))
    .option('--batch <n>', 'items generated together', parsers.positiveInt('--batch'), 4)
    .option('--min-accuracy <a>', 'exit 1 when an overall accuracy (0…1) is below this', parsers.nonNegative('--min-accuracy'))
    .option('--json', 'print one JSON object instead of tables');
  rerankOption(commonOptions(cmd)).action(async (flags: EvalFlags) => {
    const { evaluate } = await import('../actions/eval.js');
    await evaluate(ctx, cmd, flags);
  });
}

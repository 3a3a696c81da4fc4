import type { Command } from 'commander';
import { commonOptions, rerankOption, parsers, type CliContext, type ModelFlags, type SamplingFlags } from '../context.js';

export interface T2iFlags extends ModelFlags, SamplingFlags {
  out?: string;
  prompts?: string;
  batch: number;
}

/** `showo t2i PROMPT --out FILE` or `showo t2i --prompts FILE.jsonl --out DIR`. */
export function t2iCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('t2i')
    .description('generate an image from a prompt, or one per line of a Shapes World t2i file')
    .argument('[prompt]', 'the prompt, e.g. "a red circle"')
    .option('--out <path>', 'output PNG (single prompt; default out/t2i.png) or folder (--prompts; default out/t2i)')
    .option('--prompts <file>', 'a t2i JSONL file ({"id", "prompt", …} per line): writes <out>/<id>.png for each')
    .option('--batch <n>', 'prompts generated together (--prompts)', parsers.positiveInt('--batch'), 4);
  rerankOption(commonOptions(cmd)).action(async (prompt: string | undefined, flags: T2iFlags) => {
    const { t2i } = await import('../actions/t2i.js');
    await t2i(ctx, cmd, prompt, flags);
  });
}

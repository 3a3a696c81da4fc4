import type { Command } from 'commander';
import { modelOptions, parsers, type CliContext, type ModelFlags } from '../context.js';

export interface MmuFlags extends ModelFlags {
  questions?: string;
  out?: string;
  batch: number;
  maxTokens?: number;
  temperature?: number;
  beams?: number;
}

/** `showo mmu IMAGE "QUESTION"` (prints the answer) or `showo mmu --questions FILE.jsonl --out answers.jsonl`. */
export function mmuCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('mmu')
    .description('answer a question about an image, or every question of a Shapes World mmu file')
    .argument('[image]', 'PNG or JPEG image')
    .argument('[question]', 'the question, e.g. "what color is the circle?"')
    .option('--questions <file>', 'an mmu JSONL file ({"id", "scene", "question", …} per line); scenes are rendered per the SPEC')
    .option('--out <file>', 'answers JSONL ({"id", "answer"} per line; --questions; default: stdout)')
    .option('--batch <n>', 'questions answered together (--questions)', parsers.positiveInt('--batch'), 8)
    .option('--max-tokens <n>', 'longest answer in tokens (default: the model\'s text budget)', parsers.positiveInt('--max-tokens'))
    .option('--temperature <t>', 'sampling temperature (default: greedy)', parsers.nonNegative('--temperature'))
    .option('--beams <n>', 'beam search with n beams instead of greedy answers (not with --temperature)', parsers.positiveInt('--beams'));
  modelOptions(cmd).action(async (image: string | undefined, question: string | undefined, flags: MmuFlags) => {
    const { mmu } = await import('../actions/mmu.js');
    await mmu(ctx, cmd, image, question, flags);
  });
}

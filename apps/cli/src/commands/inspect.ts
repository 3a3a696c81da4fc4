import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/** `showo inspect CHECKPOINT`: tensor names, dtypes, shapes and parameter counts of a checkpoint (file or folder). */
export function inspectCommand(program: Command, ctx: CliContext): void {
  program
    .command('inspect')
    .description('list the tensors of a safetensors checkpoint (file or folder) and its config')
    .argument('<checkpoint>', 'a .safetensors file or a folder of them')
    .option('--json', 'print JSON instead of a table')
    .action(async (target: string, opts: { json?: boolean }) => {
      const { inspect } = await import('../actions/inspect.js');
      inspect(ctx, target, opts);
    });
}

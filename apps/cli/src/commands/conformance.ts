import type { Command } from 'commander';
import type { BackendName } from '@showo/runtime';
import type { CliContext } from '../context.js';

export interface ConformanceFlags {
  backend: BackendName;
  suite?: string[];
}

/** `showo conformance DIR`: one line per check, then `N passed, M failed`; exit 1 on any failure. */
export function conformanceCommand(program: Command, ctx: CliContext): void {
  program
    .command('conformance')
    .description('check this implementation against fixtures of the official one (a folder like shared/reference)')
    .argument('<dir>', 'fixture folder holding showo-tiny/ and magvit-tiny/')
    .option('--backend <name>', 'tensor backend', 'auto')
    .option('--suite <names...>', 'only these suites (prompts, masks, forward, maskgit, mmu, train_masking, train_losses, magvit)')
    .action(async (dir: string, opts: ConformanceFlags) => {
      const { conformance } = await import('../actions/conformance.js');
      await conformance(ctx, dir, opts);
    });
}

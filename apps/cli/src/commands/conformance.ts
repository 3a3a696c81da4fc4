import type { Command } from 'commander';
import { runConformance } from '@showo/conformance';
import { initBackend, type BackendName } from '@showo/runtime';
import type { CliContext } from '../context.js';

/** `showo conformance DIR`: one line per check, then `N passed, M failed`; exit 1 on any failure. */
export function conformanceCommand(program: Command, ctx: CliContext): void {
  program
    .command('conformance')
    .description('check this implementation against fixtures of the official one (a folder like shared/reference)')
    .argument('<dir>', 'fixture folder holding showo-tiny/ and magvit-tiny/')
    .option('--backend <name>', 'tensor backend', 'auto')
    .option('--suite <names...>', 'only these suites (prompts, masks, forward, maskgit, mmu, train_masking, train_losses, magvit)')
    .action(async (dir: string, opts: { backend: BackendName; suite?: string[] }) => {
      await initBackend(opts.backend, { log: (l) => ctx.err(l) });
      const report = await runConformance(dir, {
        suites: opts.suite,
        onResult: (r) => ctx.out(`${r.ok ? 'PASS' : 'FAIL'} ${r.name}${r.detail ? ` — ${r.detail}` : ''}`),
      });
      ctx.out(`${report.passed} passed, ${report.failed} failed`);
      if (report.failed > 0) ctx.fail();
    });
}

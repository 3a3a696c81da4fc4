import { runConformance } from '@showo/conformance';
import { initBackend } from '@showo/runtime';
import type { ConformanceFlags } from '../commands/conformance.js';
import type { CliContext } from '../context.js';

/** The action of `showo conformance` (see `commands/conformance.ts`). */
export async function conformance(ctx: CliContext, dir: string, opts: ConformanceFlags): Promise<void> {
  await initBackend(opts.backend, { log: (l) => ctx.err(l) });
  const report = await runConformance(dir, {
    suites: opts.suite,
    onResult: (r) => ctx.out(`${r.ok ? 'PASS' : 'FAIL'} ${r.name}${r.detail ? ` — ${r.detail}` : ''}`),
  });
  ctx.out(`${report.passed} passed, ${report.failed} failed`);
  if (report.failed > 0) ctx.fail();
}

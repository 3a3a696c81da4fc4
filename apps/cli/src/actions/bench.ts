import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@showo/runtime';
import { ModelBundleError, writeRandomModelBundle, type ModelBundle } from '@showo/showo';
import type { BenchFlags } from '../commands/bench.js';
import type { CliContext } from '../context.js';
import { resolveBundle, withShowo } from '../model.js';

/** apps/cli/{src,dist}/actions → the repository root. */
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** Runs the repository's benchmark script, forwarding its output; resolves to its exit code. */
function runScript(ctx: CliContext, script: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (b: Buffer) => ctx.io.stdout.write(b.toString()));
    child.stderr.on('data', (b: Buffer) => ctx.io.stderr.write(b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** The action of `showo bench` (see `commands/bench.ts`). */
export async function bench(ctx: CliContext, flags: BenchFlags): Promise<void> {
  const script = path.join(REPO_ROOT, 'scripts', 'bench.ts');
  if (!flags.quick && fs.existsSync(script)) {
    // The script picks its backend like every entry point: SHOWO_BACKEND (set from --backend when given).
    const env = flags.backend !== 'auto' ? { ...process.env, SHOWO_BACKEND: flags.backend } : process.env;
    const code = await runScript(ctx, script, flags.json ? ['--json'] : [], env);
    if (code !== 0) ctx.fail(code === 2 ? 2 : 1);
    return;
  }
  let bundle: ModelBundle;
  let note = '';
  let tmp: string | undefined;
  try {
    bundle = resolveBundle(flags);
  } catch (e) {
    if (!(e instanceof ModelBundleError) || flags.model !== undefined) throw e;
    // No embedded model yet: time the plumbing on a tiny random one rather than nothing.
    await initBackend(flags.backend);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'showo-bench-'));
    await writeRandomModelBundle(tmp, { seed: flags.seed });
    bundle = resolveBundle({ model: tmp });
    note = 'tiny random model (the embedded model is not installed)';
  }
  try {
    const result = await withShowo(
      ctx,
      flags,
      async (showo) => {
        const steps = 4;
        const stepMs: number[] = [];
        const tokenMs: number[] = [];
        let image;
        for (let r = 0; r <= flags.repeat; r++) {
          let last = Date.now();
          const times: number[] = [];
          image = await showo.t2i('a red circle', { steps, seed: r }).image((e) => {
            if (e.type === 'step') {
              times.push(Date.now() - last);
              last = Date.now();
            }
          });
          if (r > 0) stepMs.push(median(times)); // run 0 warms up (kernels, caches)
        }
        for (let r = 0; r <= flags.repeat; r++) {
          let last = Date.now();
          const times: number[] = [];
          await showo.answer(image!, 'what color is the circle?', { maxNewTokens: 8, greedy: true }).answer((e) => {
            if (e.type === 'token') {
              times.push(Date.now() - last);
              last = Date.now();
            }
          });
          if (r > 0 && times.length > 1) tokenMs.push(median(times.slice(1))); // the first token includes the prompt
        }
        return { backend: showo.backend.name, model: bundle.dir, tokens: bundle.prompting.numVqTokens, maskgitStepMs: median(stepMs), decodeTokenMs: median(tokenMs) };
      },
      bundle,
    );
    if (flags.json) ctx.out(JSON.stringify({ ...result, ...(note ? { note } : {}) }));
    else {
      ctx.out(`model: ${result.model}${note ? ` — ${note}` : ''} (${result.tokens} image tokens), backend ${result.backend}`);
      ctx.out('| measure | ms |');
      ctx.out('|---|---:|');
      ctx.out(`| MaskGIT step (t2i, batch 1) | ${result.maskgitStepMs.toFixed(1)} |`);
      ctx.out(`| decoded token (mmu, batch 1) | ${Number.isFinite(result.decodeTokenMs) ? result.decodeTokenMs.toFixed(1) : 'n/a'} |`);
    }
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

import fs from 'node:fs';
import path from 'node:path';
import { SafetensorsReader } from '@showo/runtime';
import type { CliContext } from '../context.js';
import { CliInputError } from '../errors.js';

function findSafetensors(target: string): string[] {
  if (!fs.existsSync(target)) throw new CliInputError(`${target} does not exist`);
  if (fs.statSync(target).isFile()) return [target];
  const files = fs.readdirSync(target).filter((f) => f.endsWith('.safetensors')).map((f) => path.join(target, f));
  if (files.length === 0) throw new CliInputError(`${target} holds no .safetensors file`);
  return files.sort();
}

/** The action of `showo inspect` (see `commands/inspect.ts`). */
export function inspect(ctx: CliContext, target: string, opts: { json?: boolean }): void {
  const report: Array<{ file: string; metadata: Record<string, string>; tensors: Array<{ name: string; dtype: string; shape: number[]; params: number }>; params: number; bytes: number }> = [];
  for (const file of findSafetensors(target)) {
    const r = SafetensorsReader.open(file);
    try {
      const tensors = r.names().map((name) => {
        const e = r.entry(name);
        return { name, dtype: e.dtype, shape: [...e.shape], params: e.shape.reduce((a, b) => a * b, 1) };
      });
      report.push({ file, metadata: { ...r.metadata }, tensors, params: tensors.reduce((a, t) => a + t.params, 0), bytes: fs.statSync(file).size });
    } finally {
      r.close();
    }
  }
  const configFile = fs.existsSync(target) && fs.statSync(target).isDirectory() ? path.join(target, 'config.json') : undefined;
  const config = configFile && fs.existsSync(configFile) ? JSON.parse(fs.readFileSync(configFile, 'utf8')) : undefined;
  if (opts.json) {
    ctx.out(JSON.stringify({ files: report, config }, null, 2));
    return;
  }
  for (const f of report) {
    ctx.out(`${f.file}  (${(f.bytes / 1e6).toFixed(2)} MB, ${f.tensors.length} tensors, ${f.params.toLocaleString('en-US')} parameters)`);
    if (Object.keys(f.metadata).length) ctx.out(`  metadata: ${JSON.stringify(f.metadata)}`);
    const w = Math.max(...f.tensors.map((t) => t.name.length));
    for (const t of f.tensors) ctx.out(`  ${t.name.padEnd(w)}  ${t.dtype.padEnd(4)}  [${t.shape.join(', ')}]`);
  }
  if (config) ctx.out(`config.json: ${JSON.stringify(config)}`);
}

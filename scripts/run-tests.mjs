#!/usr/bin/env node
// Runs every test file of the workspace with node:test through tsx (TypeScript from source, no build needed).
// Usage: npm test [-- <path prefix>...]   e.g. npm test -- packages/prompting
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const prefixes = process.argv.slice(2).map((p) => path.resolve(p));

function walk(dir, out) {
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

const files = [...walk(path.join(root, 'packages'), []), ...walk(path.join(root, 'apps'), []), ...walk(path.join(root, 'scripts'), [])]
  .filter((f) => prefixes.length === 0 || prefixes.some((p) => f.startsWith(p)))
  .sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...files.map((f) => path.relative(root, f))], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, NX_NO_CLOUD: 'true', NX_DAEMON: 'false' },
});
process.exit(result.status ?? 1);

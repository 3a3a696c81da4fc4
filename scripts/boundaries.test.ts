import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
// @ts-expect-error plain ESM script without type declarations
import { checkBoundaries } from './check-boundaries.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

function makeWorkspace(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'showo-boundaries-'));
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

const pkg = (name: string, layer: number, deps: string[] = []) =>
  JSON.stringify({ name, nx: { tags: [`layer:${layer}`] }, dependencies: Object.fromEntries(deps.map((d) => [d, '0.1.0'])) });

test('the real workspace respects its module boundaries', () => {
  assert.deepEqual(checkBoundaries(root), []);
});

test('a downward import through the entry point is allowed', () => {
  const ws = makeWorkspace({
    'packages/low/package.json': pkg('@showo/low', 0),
    'packages/low/src/index.ts': 'export const x = 1;\n',
    'packages/high/package.json': pkg('@showo/high', 1, ['@showo/low']),
    'packages/high/src/index.ts': "import { x } from '@showo/low';\nexport const y = x;\n",
  });
  assert.deepEqual(checkBoundaries(ws), []);
});

test('a planted upward import fails the check', () => {
  const ws = makeWorkspace({
    'packages/low/package.json': pkg('@showo/low', 0, ['@showo/high']),
    'packages/low/src/index.ts': "import { y } from '@showo/high';\nexport const x = y;\n",
    'packages/high/package.json': pkg('@showo/high', 1),
    'packages/high/src/index.ts': 'export const y = 1;\n',
  });
  const v: string[] = checkBoundaries(ws);
  assert.equal(v.length, 1);
  assert.match(v[0], /layer 0.*imports @showo\/high \(layer 1\)/);
});

test('deep imports, relative escapes and undeclared dependencies fail the check', () => {
  const ws = makeWorkspace({
    'packages/low/package.json': pkg('@showo/low', 0),
    'packages/low/src/index.ts': 'export const x = 1;\n',
    'packages/low/src/inner.ts': 'export const z = 1;\n',
    'packages/high/package.json': pkg('@showo/high', 1),
    'packages/high/src/a.ts': "export { z } from '@showo/low/src/inner.js';\n",
    'packages/high/src/b.ts': "export { z } from '../../low/src/inner.js';\n",
  });
  const v: string[] = checkBoundaries(ws);
  assert.ok(v.some((s) => /deep import/.test(s)), v.join('\n'));
  assert.ok(v.some((s) => /relative import .* leaves @showo\/high/.test(s)), v.join('\n'));
  assert.ok(v.some((s) => /not declared/.test(s)), v.join('\n'));
});

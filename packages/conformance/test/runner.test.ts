import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend, requireReferenceDir } from '@showo/runtime';
import { runConformance } from '@showo/conformance';

test('every conformance check passes on the reference fixtures', async (t) => {
  const dir = requireReferenceDir();
  if (!dir) return t.skip('reference fixtures not present');
  await initBackend('wasm');
  const lines: string[] = [];
  const report = await runConformance(dir, { onResult: (r) => lines.push(`${r.ok ? 'PASS' : 'FAIL'} ${r.name} ${r.detail ?? ''}`) });
  const failures = report.results.filter((r) => !r.ok);
  assert.deepEqual(failures, [], lines.join('\n'));
  assert.ok(report.passed >= 100, `only ${report.passed} checks ran`);
  for (const suite of ['prompts', 'masks', 'forward', 'maskgit', 'mmu', 'trainer', 'magvit']) {
    assert.ok(report.results.some((r) => r.name.includes(suite) || r.name.startsWith(suite)), `no check of ${suite}`);
  }
});

test('a missing folder and malformed fixtures are failures, not crashes or passes', async (t) => {
  const ref = requireReferenceDir();
  if (!ref) return t.skip('reference fixtures not present');
  await initBackend('wasm');
  const missing = await runConformance(path.join(os.tmpdir(), 'no-such-showo-fixtures'));
  assert.equal(missing.passed, 0);
  assert.ok(missing.failed >= 1);

  // A copy of the fixtures with one JSON file truncated and one removed.
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'showo-fixtures-'));
  fs.cpSync(ref, copy, { recursive: true });
  const masks = path.join(copy, 'showo-tiny', 'masks.json');
  fs.writeFileSync(masks, fs.readFileSync(masks, 'utf8').slice(0, 1000));
  fs.rmSync(path.join(copy, 'showo-tiny', 'mmu.json'));
  const report = await runConformance(copy, { suites: ['masks', 'mmu', 'prompts'] });
  assert.ok(report.failed >= 2, JSON.stringify(report.results.filter((r) => !r.ok)));
  assert.ok(report.results.some((r) => !r.ok && /mask/i.test(r.name)));
  assert.ok(report.results.some((r) => !r.ok && /mmu/i.test(r.name)));
  assert.ok(report.results.some((r) => r.ok && /prompt/i.test(r.name)), 'prompts still pass');
});

// --workers: guided t2i on two engines writes the very image of --workers 1; bad values are usage errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runCli, tempDir, tinyBundle } from './helpers.js';

test('t2i --workers 2 writes the same PNG as --workers 1', async () => {
  const dir = tempDir();
  const model = await tinyBundle();
  const out = (n: string) => path.join(dir, `w${n}.png`);
  for (const n of ['1', '2']) {
    const r = await runCli(['t2i', 'a red circle', '--out', out(n), '--model', model, '--steps', '3', '--cfg', '2', '--seed', '4', '--workers', n]);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.ok(fs.readFileSync(out('2')).equals(fs.readFileSync(out('1'))));
});

test('--workers takes 1, 2 or auto', async () => {
  const r = await runCli(['t2i', 'a red circle', '--workers', '3']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--workers/);
  const help = await runCli(['t2i', '--help']);
  assert.match(help.stdout, /--workers <n>/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireReferenceDir } from '@showo/runtime';
import { checkTrainLosses, checkTrainMasking } from '../../conformance/src/checks/trainer.js';
import { useWasm } from './helpers.js';

// The conformance checks live in @showo/conformance (which depends on this package); the trainer's own tests run
// them directly so a regression shows up here first.
const dir = requireReferenceDir();

test('train_masking.json: mask_or_random_replace_tokens is exact', { skip: !dir && 'fixtures missing' }, async () => {
  await useWasm();
  const results = await checkTrainMasking(dir!);
  for (const r of results) assert.ok(r.ok, `${r.name}: ${r.detail}`);
  assert.ok(results.length >= 5);
});

test('train_mixed: losses, rebuilt batch and model forward match the official values', { skip: !dir && 'fixtures missing' }, async () => {
  await useWasm();
  const results = await checkTrainLosses(dir!);
  for (const r of results) console.log(`# ${r.ok ? 'ok ' : 'FAIL'} ${r.name}: ${r.detail ?? ''}`);
  for (const r of results) assert.ok(r.ok, `${r.name}: ${r.detail}`);
});

test('a missing fixture is a failed check, not a skipped one', async () => {
  await useWasm();
  for (const r of [...(await checkTrainMasking('/nonexistent')), ...(await checkTrainLosses('/nonexistent'))]) assert.equal(r.ok, false);
});

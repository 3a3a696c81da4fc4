// The tokenizer's synthetic training images (mosaics and patchworks) must keep the SPEC's held-out rule and stay
// consistent with their code targets, or the gate's held-out scores would measure leaked training data.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { detectObjects, isHeldOut, type Shape } from '@showo/shapes-world';
import { PatchCodeImageData, PatchMosaicData, loadPatchCodebook } from './patch-codes.js';
import { ROOT } from './common.js';

const book = loadPatchCodebook(path.join(ROOT, 'models', 'shapes-world-next', 'patch-codebook.json'));
const toBytes = (pixels: Float32Array, k: number, n: number): Uint8Array =>
  Uint8Array.from(pixels.subarray(k * n, (k + 1) * n), (v) => Math.round((v + 1) * 127.5));

test('mosaics and patchworks hold no held-out composition and their codes name their pixels', () => {
  const data = new PatchMosaicData(book, { seed: 3, batch: 12, howtoWeight: 0.2, mosaicShare: 0.3, patchworkShare: 0.6 });
  const n = 64 * 64 * 3;
  const per = (64 / book.patch) ** 2;
  for (let round = 0; round < 4; round++) {
    const b = data.next().value as { batch: number; pixels: Float32Array; codes: Int32Array };
    for (let k = 0; k < b.batch; k++) {
      const img = toBytes(b.pixels, k, n);
      const heldOut = detectObjects(img, 64).filter((o) => o.shape !== 'unknown' && isHeldOut(o.shape as Shape, o.color));
      assert.deepEqual(heldOut, [], `image ${round}.${k} holds a held-out composition`);
      assert.deepEqual(Array.from(book.encode({ width: 64, height: 64, data: img })), Array.from(b.codes.subarray(k * per, (k + 1) * per)));
    }
  }
  assert.ok(data.erased > 0, 'the recolouring makes held-out compositions now and then, and they are erased');
});

test('a patchwork changes colours only: every patch keeps its mask', () => {
  const plain = new PatchCodeImageData(book, { seed: 9, batch: 8, howtoWeight: 0.2 });
  const patched = new PatchMosaicData(book, { seed: 9, batch: 8, howtoWeight: 0.2, mosaicShare: 0, patchworkShare: 1 });
  const a = (plain.next().value as { codes: Int32Array }).codes;
  const b = (patched.next().value as { codes: Int32Array }).codes;
  const slots = 2 ** book.maskBits;
  let recoloured = 0;
  for (let i = 0; i < a.length; i++) {
    // An erased patch (code 0) is the only other change allowed.
    if (b[i] !== 0) assert.equal(b[i]! % slots, a[i]! % slots, `patch ${i} changed its mask`);
    if (b[i] !== 0 && b[i] !== a[i]) recoloured++;
  }
  assert.ok(recoloured > 0, 'some patches get a new colour');
});

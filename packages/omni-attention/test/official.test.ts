import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '@showo/runtime';
import {
  createAttentionMaskForMmu,
  createAttentionMaskLvg,
  createAttentionMaskPredictNext,
  firstMismatch,
  fromAllowRows,
  toAllowRows,
  type AllowMask,
} from '../src/index.js';
import { IDS, readFixture, tinyDir, tinyIds } from './fixtures.js';

function assertSame(actual: AllowMask, expected: AllowMask, what: string): void {
  const m = firstMismatch(actual, expected);
  assert.equal(m, undefined, `${what}: ${JSON.stringify(m)}`);
}

test('every masks.json case is reproduced exactly by the official builder', (t) => {
  const dir = tinyDir();
  if (!dir) return t.skip('fixtures missing');
  const ids = tinyIds(dir);
  const { cases } = readFixture(dir, 'masks.json');
  const seen: string[] = [];
  for (const [name, c] of Object.entries<any>(cases)) {
    const call: string = c.official_call;
    let ours: AllowMask;
    if (call.startsWith('create_attention_mask_predict_next')) ours = createAttentionMaskPredictNext(c.sequence_ids, ids, { rmPadInImage: /rm_pad_in_image=True/.test(call) });
    else if (call.startsWith('create_attention_mask_for_mmu')) ours = createAttentionMaskForMmu(c.sequence_ids, ids);
    else if (call.startsWith('create_attention_mask_lvg')) ours = createAttentionMaskLvg(c.sequence_ids, ids);
    else throw new Error(`unknown call ${call}`);
    assertSame(ours, fromAllowRows(c.allow_rows, c.shape), name);
    assert.deepEqual(toAllowRows(ours), c.allow_rows);
    seen.push(name);
  }
  assert.deepEqual(seen.sort(), ['interleaved_lvg', 'lm', 'mmu', 't2i_cfg_keep_pad', 't2i_cfg_rm_pad']);
});

test('the masks recorded in maskgit.json (CFG batch) and mmu.json', (t) => {
  const dir = tinyDir();
  if (!dir) return t.skip('fixtures missing');
  const ids = tinyIds(dir);
  for (const run of readFixture(dir, 'maskgit.json').runs) {
    const seqs = run.uncond_input_ids_initial ? [...run.input_ids_initial, ...run.uncond_input_ids_initial] : run.input_ids_initial;
    assertSame(createAttentionMaskPredictNext(seqs, ids, { rmPadInImage: true }), fromAllowRows(run.attention_mask_allow_rows, run.attention_mask_shape), `maskgit g=${run.guidance_scale}`);
  }
  for (const run of readFixture(dir, 'mmu.json').runs) {
    assertSame(createAttentionMaskForMmu(run.prompt_ids, ids), fromAllowRows(run.attention_mask_allow_rows, run.attention_mask_shape), `mmu top_k=${run.top_k}`);
  }
});

test('predict_next on a small example, both rm_pad_in_image settings', () => {
  // [PAD] [PAD] t t <soi> i <eoi>
  const seq = [[200, 200, 5, 6, 201, 210, 202]];
  const keep = toAllowRows(createAttentionMaskPredictNext(seq, IDS));
  assert.deepEqual(keep, ['1000000', '1100000', '1110000', '1111000', '1111111', '1111111', '1111111']);
  const rm = toAllowRows(createAttentionMaskPredictNext(seq, IDS, { rmPadInImage: true }));
  assert.deepEqual(rm, ['1000000', '1100000', '0010000', '0011000', '0011111', '0011111', '0011111']);
});

test('for_mmu uses the first <|eoi|> of the batch for every row', () => {
  // Row 0's eoi at 2, row 1's at 3: row 1 still gets the prefix 0..2 (official behaviour).
  const seqs = [
    [201, 210, 202, 5, 6],
    [201, 210, 211, 202, 5],
  ];
  const rows = toAllowRows(createAttentionMaskForMmu(seqs, IDS));
  assert.deepEqual(rows.slice(5), ['11100', '11100', '11100', '11110', '11111']);
  assert.throws(() => createAttentionMaskForMmu([[1, 2, 3]], IDS), InvalidArgumentError);
});

test('lvg: pads hidden from the first image on, each image block bidirectional', () => {
  const seq = [[200, 5, 201, 210, 202, 6, 201, 211, 202, 200]];
  const rows = toAllowRows(createAttentionMaskLvg(seq, IDS));
  assert.deepEqual(rows, [
    '1000000000',
    '1100000000', // text before the first image still sees the pad
    '0111100000',
    '0111100000',
    '0111100000',
    '0111110000',
    '0111111110',
    '0111111110',
    '0111111110',
    '0111111110', // trailing pad: causal over non-pads, blind to pads (itself included)
  ]);
  assert.throws(() => createAttentionMaskLvg([[5, 6]], IDS), InvalidArgumentError);
  assert.throws(() => createAttentionMaskLvg([[201, 202, 5], [5, 6, 7]], IDS), InvalidArgumentError);
});

test('input validation', () => {
  assert.throws(() => createAttentionMaskPredictNext([], IDS), InvalidArgumentError);
  assert.throws(() => createAttentionMaskPredictNext([[1, 2], [1]], IDS), InvalidArgumentError);
  assert.throws(() => createAttentionMaskPredictNext([[1, 2]], IDS, { rmPadInImage: true }), InvalidArgumentError); // no <|soi|>
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError, SeededRandom } from '@showo/runtime';
import {
  appendRows,
  buildOmniMask,
  buildOmniMaskFromIds,
  concatBatch,
  createAttentionMaskForMmu,
  createAttentionMaskLvg,
  createAttentionMaskPredictNext,
  extendMask,
  firstMismatch,
  fromAllowRows,
  segmentsFromIds,
  sliceMask,
  toAllowRows,
  type AllowMask,
  type Segment,
} from '../src/index.js';
import { IDS, readFixture, tinyDir, tinyIds } from './fixtures.js';

function assertSame(actual: AllowMask, expected: AllowMask, what: string): void {
  const m = firstMismatch(actual, expected);
  assert.equal(m, undefined, `${what}: ${JSON.stringify(m)}`);
}

/** Compare on rows and columns that are not [PAD] only. */
function assertSameNonPad(actual: AllowMask, expected: AllowMask, seqs: number[][], padId: number, what: string): void {
  assert.deepEqual([actual.batch, actual.queries, actual.keys], [expected.batch, expected.queries, expected.keys]);
  for (let b = 0; b < seqs.length; b++) {
    for (let i = 0; i < expected.queries; i++) {
      if (seqs[b]![i] === padId) continue;
      for (let j = 0; j < expected.keys; j++) {
        if (seqs[b]![j] === padId) continue;
        const n = (b * expected.queries + i) * expected.keys + j;
        assert.equal(actual.data[n], expected.data[n], `${what}: b=${b} q=${i} k=${j}`);
      }
    }
  }
}

const rng = new SeededRandom(7);
const int = (lo: number, hi: number) => lo + Math.floor(rng.next() * (hi - lo + 1));
const text = (n: number) => Array.from({ length: n }, () => int(0, 199));
const image = (n: number) => Array.from({ length: n }, () => int(210, 274));
const pads = (n: number) => new Array<number>(n).fill(200);

test('general builder agrees with the official builders on the fixtures', (t) => {
  const dir = tinyDir();
  if (!dir) return t.skip('fixtures missing');
  const ids = tinyIds(dir);
  const { cases } = readFixture(dir, 'masks.json');
  const ref = (name: string) => fromAllowRows(cases[name].allow_rows, cases[name].shape);
  const seqs = (name: string) => cases[name].sequence_ids as number[][];
  assertSame(buildOmniMaskFromIds(seqs('t2i_cfg_rm_pad'), ids, { pad: 'isolate' }), ref('t2i_cfg_rm_pad'), 't2i rm_pad');
  assertSame(buildOmniMaskFromIds(seqs('t2i_cfg_keep_pad'), ids, { pad: 'attend' }), ref('t2i_cfg_keep_pad'), 't2i keep_pad');
  assertSame(buildOmniMaskFromIds(seqs('lm'), ids, { pad: 'attend' }), ref('lm'), 'lm');
  assertSame(buildOmniMaskFromIds(seqs('mmu'), ids, { pad: 'attend', bidirectionalPrefix: true }), ref('mmu'), 'mmu');
  assertSameNonPad(buildOmniMaskFromIds(seqs('interleaved_lvg'), ids), ref('interleaved_lvg'), seqs('interleaved_lvg'), ids.padId, 'interleaved');
});

test('general builder agrees with the official builders on random prompts of every layout', () => {
  for (let trial = 0; trial < 40; trial++) {
    const B = int(1, 3);
    const N = int(1, 6);
    const MTL = int(3, 8);
    // t2i: [PAD]* t2i BOS text EOS <soi> image <eoi>
    const t2i = Array.from({ length: B }, () => {
      const tx = text(int(0, MTL - 3));
      return [...pads(MTL - 3 - tx.length), 205, 199, ...tx, 199, 201, ...image(N), 202];
    });
    assertSame(buildOmniMaskFromIds(t2i, IDS, { pad: 'isolate' }), createAttentionMaskPredictNext(t2i, IDS, { rmPadInImage: true }), `t2i rm ${trial}`);
    assertSame(buildOmniMaskFromIds(t2i, IDS, { pad: 'attend' }), createAttentionMaskPredictNext(t2i, IDS), `t2i keep ${trial}`);
    // lm: text then right padding.
    const L = int(2, 12);
    const lm = Array.from({ length: B }, () => {
      const tx = text(int(1, L));
      return [...tx, ...pads(L - tx.length)];
    });
    assertSame(buildOmniMaskFromIds(lm, IDS, { pad: 'attend' }), createAttentionMaskPredictNext(lm, IDS), `lm ${trial}`);
    // mmu: <mmu> <soi> image <eoi> BOS text EOS [PAD]*
    const MSL = int(2, 8);
    const mmu = Array.from({ length: B }, () => {
      const tx = text(int(0, MSL - 2));
      return [206, 201, ...image(N), 202, 199, ...tx, 199, ...pads(MSL - 2 - tx.length)];
    });
    assertSame(buildOmniMaskFromIds(mmu, IDS, { pad: 'attend', bidirectionalPrefix: true }), createAttentionMaskForMmu(mmu, IDS), `mmu ${trial}`);
    // interleaved: the t2i block, then k × (BOS text EOS <soi> image <eoi>), right-padded.
    const k = int(1, 3);
    const inter = t2i.map((row) => {
      const out = [...row];
      for (let s = 0; s < k; s++) out.push(199, ...text(int(0, 3)), 199, 201, ...image(N), 202);
      return out;
    });
    const width = Math.max(...inter.map((r) => r.length));
    const padded = inter.map((r) => [...r, ...pads(width - r.length)]);
    assertSameNonPad(buildOmniMaskFromIds(padded, IDS), createAttentionMaskLvg(padded, IDS), padded, 200, `interleaved ${trial}`);
  }
});

test('segment semantics on a hand-checked interleaving', () => {
  const segs: Segment[] = [
    { kind: 'pad', length: 2 },
    { kind: 'text', length: 2 },
    { kind: 'image', length: 2 },
    { kind: 'text', length: 1 },
    { kind: 'image', length: 2 },
    { kind: 'pad', length: 1 },
  ];
  assert.deepEqual(toAllowRows(buildOmniMask([segs])), [
    '1000000000',
    '1100000000',
    '0010000000',
    '0011000000',
    '0011110000', // image block: everything before + itself
    '0011110000',
    '0011111000',
    '0011111110',
    '0011111110',
    '0000000001', // isolated trailing pad: only itself
  ]);
  assert.deepEqual(toAllowRows(buildOmniMask([segs], { pad: 'attend' })), [
    '1000000000',
    '1100000000',
    '1110000000',
    '1111000000',
    '1111110000',
    '1111110000',
    '1111111000',
    '1111111110',
    '1111111110',
    '1111111111',
  ]);
  // No row is ever fully blocked.
  const m = buildOmniMask([segs]);
  for (let i = 0; i < m.queries; i++) assert.ok(m.data.subarray(i * m.keys, (i + 1) * m.keys).some((v) => v === 1));
  assert.throws(() => buildOmniMask([segs, [{ kind: 'text', length: 3 }]]), InvalidArgumentError);
  assert.throws(() => buildOmniMask([[{ kind: 'text', length: -1 }]]), InvalidArgumentError);
  assert.throws(() => buildOmniMask([[{ kind: 'video' as 'text', length: 1 }]]), InvalidArgumentError);
  assert.throws(() => buildOmniMask([]), InvalidArgumentError);
});

test('segmentsFromIds', () => {
  assert.deepEqual(segmentsFromIds([200, 200, 5, 201, 210, 202, 201, 211, 202, 6, 200], IDS), [
    { kind: 'pad', length: 2 },
    { kind: 'text', length: 1 },
    { kind: 'image', length: 3 },
    { kind: 'image', length: 3 },
    { kind: 'text', length: 1 },
    { kind: 'pad', length: 1 },
  ]);
  assert.deepEqual(segmentsFromIds([206, 201, 210, 202, 5, 200], IDS, { bidirectionalPrefix: true }), [
    { kind: 'image', length: 4 },
    { kind: 'text', length: 1 },
    { kind: 'pad', length: 1 },
  ]);
  assert.deepEqual(segmentsFromIds([5, 201, 210], IDS), [{ kind: 'text', length: 1 }, { kind: 'image', length: 2 }]); // unterminated
});

test('appendRows: a prefix-cached t2i image block gets the rows of the full mask', (t) => {
  const dir = tinyDir();
  if (!dir) return t.skip('fixtures missing');
  const ids = tinyIds(dir);
  const c = readFixture(dir, 'masks.json').cases.t2i_cfg_rm_pad;
  const full = fromAllowRows(c.allow_rows, c.shape);
  const L = full.keys;
  const prefix = readFixture(dir, 'config.json').showo.max_text_len_in_prompting; // MSL + 1: the text part
  const cached = sliceMask(full, { queries: [0, prefix], keys: [0, prefix] });
  const rows = appendRows(cached, [{ kind: 'image', length: L - prefix }], { pad: 'isolate' });
  assertSame(rows, sliceMask(full, { queries: [prefix, L] }), 'image block rows');
  // And the prefix itself is what the general builder gives for the text part alone.
  const textPart = (c.sequence_ids as number[][]).map((s) => s.slice(0, prefix));
  assertSame(buildOmniMaskFromIds(textPart, ids), cached, 'prefix');
});

test('extendMask reproduces the mask growth of mmu_generate (KV-cache decoding)', (t) => {
  const dir = tinyDir();
  if (!dir) return t.skip('fixtures missing');
  const ids = tinyIds(dir);
  const run = readFixture(dir, 'mmu.json').runs[0];
  let seq: number[] = [...run.prompt_ids[0]];
  let mask = fromAllowRows(run.attention_mask_allow_rows, run.attention_mask_shape);
  for (const token of run.generated_tokens as number[]) {
    const grown = extendMask(mask, [{ kind: 'text', length: 1 }], { pad: 'attend' });
    // Official growth: old rows blind to the new column; the new row = old last row + itself.
    const L = mask.keys;
    for (let i = 0; i < L; i++) {
      for (let j = 0; j <= L; j++) assert.equal(grown.data[i * (L + 1) + j], j < L ? mask.data[i * L + j] : 0);
    }
    for (let j = 0; j <= L; j++) assert.equal(grown.data[L * (L + 1) + j], j < L ? mask.data[(L - 1) * L + j] : 1);
    seq = [...seq, token];
    assertSame(grown, createAttentionMaskForMmu([seq], ids), `after ${seq.length}`);
    // The rows alone (what a KV-cached step feeds the model).
    assertSame(appendRows(mask, [{ kind: 'text', length: 1 }]), sliceMask(grown, { queries: [L, L + 1] }), 'rows');
    mask = grown;
  }
});

test('incremental building of an interleaved sequence equals the whole mask', () => {
  const steps: Segment[][] = [
    [{ kind: 'pad', length: 3 }, { kind: 'text', length: 4 }],
    [{ kind: 'image', length: 5 }],
    [{ kind: 'text', length: 3 }],
    [{ kind: 'image', length: 5 }, { kind: 'text', length: 2 }],
    [{ kind: 'text', length: 1 }],
  ];
  let mask = buildOmniMask([steps[0]!]);
  for (let s = 1; s < steps.length; s++) mask = extendMask(mask, steps[s]!);
  assertSame(mask, buildOmniMask([steps.flat()]), 'incremental');
  // Per-row appended segments, batch of two.
  const two = concatBatch([buildOmniMask([[{ kind: 'text', length: 3 }]]), buildOmniMask([[{ kind: 'pad', length: 1 }, { kind: 'text', length: 2 }]])]);
  const rows = appendRows(two, [[{ kind: 'image', length: 2 }], [{ kind: 'text', length: 1 }, { kind: 'text', length: 1 }]]);
  assert.deepEqual(toAllowRows(rows), ['11111', '11111', '01110', '01111']);
  assert.throws(() => appendRows(two, [[{ kind: 'text', length: 1 }]]), InvalidArgumentError); // rows ≠ batch
  assert.throws(() => appendRows(two, [{ kind: 'text', length: 1 }], { contextRow: 5 }), InvalidArgumentError);
  assert.throws(() => extendMask(rows, [{ kind: 'text', length: 1 }]), InvalidArgumentError); // not square
});

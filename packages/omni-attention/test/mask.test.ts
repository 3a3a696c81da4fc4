import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Container } from 'inversify';
import { InvalidArgumentError } from '@showo/runtime';
import {
  OMNI_ATTENTION_TYPES,
  allows,
  buildOmniMask,
  concatBatch,
  createAllowMask,
  defaultMaskBuilder,
  fromAllowRows,
  masksEqual,
  maskRow,
  omniAttentionModule,
  selectBatch,
  sliceKeys,
  sliceMask,
  sliceQueries,
  toAdditiveTensor,
  toAllowRows,
  toTensor,
  type MaskBuilder,
} from '../src/index.js';

const causal3 = () => buildOmniMask([[{ kind: 'text', length: 3 }]]);

test('allow-rows round trip and validation', () => {
  const rows = ['100', '110', '111', '100', '010', '001'];
  const m = fromAllowRows(rows, [2, 1, 3, 3]);
  assert.deepEqual([m.batch, m.queries, m.keys], [2, 3, 3]);
  assert.deepEqual(toAllowRows(m), rows);
  assert.equal(allows(m, 1, 1, 1), true);
  assert.equal(allows(m, 1, 1, 0), false);
  assert.deepEqual([...maskRow(m, 0, 1)], [1, 1, 0]);
  assert.deepEqual(toAllowRows(fromAllowRows(rows, [2, 3, 3])), rows);
  assert.throws(() => fromAllowRows(rows, [2, 2, 3, 3]), InvalidArgumentError);
  assert.throws(() => fromAllowRows(rows.slice(1), [2, 3, 3]), InvalidArgumentError);
  assert.throws(() => fromAllowRows(['102', ...rows.slice(1)], [2, 3, 3]), InvalidArgumentError);
  assert.throws(() => createAllowMask(-1, 2, 2), InvalidArgumentError);
  assert.equal(createAllowMask(1, 2, 2, 1).data.every((v) => v === 1), true);
});

test('slicing rows and columns for a prefix cache; batch select and concat', () => {
  const m = concatBatch([causal3(), createAllowMask(1, 3, 3, 1)]);
  assert.equal(m.batch, 2);
  assert.deepEqual(toAllowRows(sliceQueries(m, 1, 3)), ['110', '111', '111', '111']);
  assert.deepEqual(toAllowRows(sliceKeys(m, 0, 2)), ['10', '11', '11', '11', '11', '11']);
  assert.deepEqual(toAllowRows(sliceMask(m, { queries: [2, 3], keys: [1, 3] })), ['11', '11']);
  assert.deepEqual(toAllowRows(selectBatch(m, [1, 0])), ['111', '111', '111', '100', '110', '111']);
  assert.equal(masksEqual(selectBatch(m, [0]), causal3()), true);
  assert.equal(masksEqual(selectBatch(m, [1]), causal3()), false);
  assert.throws(() => sliceQueries(m, 2, 4), InvalidArgumentError);
  assert.throws(() => sliceKeys(m, 2, 1), InvalidArgumentError);
  assert.throws(() => selectBatch(m, [2]), InvalidArgumentError);
  assert.throws(() => concatBatch([causal3(), createAllowMask(1, 2, 3)]), InvalidArgumentError);
  assert.throws(() => concatBatch([]), InvalidArgumentError);
});

test('toTensor: a tf bool tensor [B,1,Lq,Lk] (or [B,Lq,Lk]); toAdditiveTensor: 0 / large negative', async () => {
  const m = causal3();
  const t4 = toTensor(m);
  const t3 = toTensor(m, { headAxis: false });
  const add = toAdditiveTensor(m, { blocked: -1e4 });
  try {
    assert.equal(t4.dtype, 'bool');
    assert.deepEqual(t4.shape, [1, 1, 3, 3]);
    assert.deepEqual(t3.shape, [1, 3, 3]);
    assert.deepEqual([...(await t4.data())], [...m.data]);
    assert.equal(add.dtype, 'float32');
    assert.deepEqual([...(await add.data())], [0, -1e4, -1e4, 0, 0, -1e4, 0, 0, 0]);
  } finally {
    t4.dispose();
    t3.dispose();
    add.dispose();
  }
});

test('omniAttentionModule binds the default mask builder', () => {
  const container = new Container();
  container.load(omniAttentionModule());
  const builder = container.get<MaskBuilder>(OMNI_ATTENTION_TYPES.MaskBuilder);
  assert.equal(builder, defaultMaskBuilder);
  assert.equal(masksEqual(builder.build([[{ kind: 'text', length: 3 }]]), causal3()), true);
});

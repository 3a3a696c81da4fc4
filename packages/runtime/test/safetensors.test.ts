import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readSafetensors, SafetensorsError, SafetensorsReader, writeSafetensors, type SafetensorsDType } from '@showo/runtime';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'showo-st-'));

function rawFile(name: string, header: unknown, data: Buffer, headerLenOverride?: number): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerLenOverride ?? json.length));
  const file = path.join(tmp, name);
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
  return file;
}

function problemOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${e}`);
    return e.problem;
  }
  assert.fail('expected an error');
}

test('round trip for every dtype, with metadata', () => {
  const file = path.join(tmp, 'all.safetensors');
  const values = [0, 1.5, -2.25, 3.140625, 65504, -0.0009765625];
  const dtypes: SafetensorsDType[] = ['F32', 'F16', 'BF16'];
  const tensors: Record<string, { dtype: SafetensorsDType; shape: number[]; data: number[] }> = {};
  for (const d of dtypes) tensors[`w.${d}`] = { dtype: d, shape: [2, 3], data: values };
  tensors.ids32 = { dtype: 'I32', shape: [4], data: [0, -1, 2147483647, -2147483648] };
  tensors.ids64 = { dtype: 'I64', shape: [2, 2], data: [5, -7, 58497, 0] };
  writeSafetensors(file, tensors, { format: 'pt', note: 'hello' });
  const { tensors: back, metadata } = readSafetensors(file);
  assert.deepEqual(metadata, { format: 'pt', note: 'hello' });
  assert.deepEqual([...back.keys()], Object.keys(tensors));
  assert.deepEqual([...back.get('w.F32')!.data], values.map(Math.fround));
  assert.deepEqual([...back.get('w.F16')!.data], values); // all exactly representable in f16
  // bf16 keeps 8 bits of mantissa: 3.140625 → 3.140625, 65504 → 65536 (round to nearest even)
  assert.deepEqual([...back.get('w.BF16')!.data], [0, 1.5, -2.25, 3.140625, 65536, -0.0009765625]);
  assert.deepEqual([...back.get('ids32')!.data], [0, -1, 2147483647, -2147483648]);
  assert.deepEqual(back.get('ids64')!.shape, [2, 2]);
  assert.deepEqual([...back.get('ids64')!.data], [5, -7, 58497, 0]);
  assert.ok(back.get('ids64')!.data instanceof Int32Array);
  // header padded to a multiple of 8, as the format requires
  const headerLen = Number(fs.readFileSync(file).readBigUInt64LE(0));
  assert.equal(headerLen % 8, 0);
});

test('the reader reads tensor by tensor and reports an unknown name', () => {
  const file = path.join(tmp, 'two.safetensors');
  writeSafetensors(file, { a: { dtype: 'F32', shape: [3], data: [1, 2, 3] }, b: { dtype: 'F32', shape: [1], data: [9] } });
  const r = SafetensorsReader.open(file);
  assert.deepEqual(r.names(), ['a', 'b']);
  assert.deepEqual([...r.read('b').data], [9]);
  assert.equal(problemOf(() => r.read('zzz')), 'UNKNOWN_TENSOR');
  r.close();
});

test('a write is atomic: a failed write leaves the previous file intact and no temp files', () => {
  const file = path.join(tmp, 'atomic.safetensors');
  writeSafetensors(file, { a: { dtype: 'F32', shape: [2], data: [1, 2] } });
  assert.throws(() => writeSafetensors(file, { a: { dtype: 'F32', shape: [3], data: [1, 2] } }), RangeError);
  assert.deepEqual([...readSafetensors(file).tensors.get('a')!.data], [1, 2]);
  assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith('atomic') && f.includes('.tmp-')), []);
});

test('corrupt files are refused with a typed problem', () => {
  const good = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const data = Buffer.alloc(8);
  assert.equal(problemOf(() => SafetensorsReader.open(rawFile('empty-header', '', Buffer.alloc(0), 0))), 'BAD_HEADER');
  fs.writeFileSync(path.join(tmp, 'tiny'), Buffer.from([1, 2, 3]));
  assert.equal(problemOf(() => SafetensorsReader.open(path.join(tmp, 'tiny'))), 'TRUNCATED');
  assert.equal(problemOf(() => SafetensorsReader.open(rawFile('hdr-cut', good, data, 4000))), 'TRUNCATED');
  assert.equal(problemOf(() => SafetensorsReader.open(rawFile('badjson', '{"a": [', data))), 'BAD_HEADER');
  assert.equal(problemOf(() => SafetensorsReader.open(rawFile('data-cut', good, Buffer.alloc(5)))), 'TRUNCATED');
  assert.equal(
    problemOf(() => SafetensorsReader.open(rawFile('oob', { a: { dtype: 'F32', shape: [2], data_offsets: [100, 108] } }, data))),
    'OFFSETS_OUT_OF_RANGE',
  );
  assert.equal(
    problemOf(() =>
      SafetensorsReader.open(
        rawFile('overlap', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data),
      ),
    ),
    'OFFSETS_OVERLAP',
  );
  assert.equal(problemOf(() => SafetensorsReader.open(rawFile('dtype', { a: { dtype: 'Q4', shape: [2], data_offsets: [0, 8] } }, data))), 'UNKNOWN_DTYPE');
  assert.equal(problemOf(() => SafetensorsReader.open(rawFile('shape', { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data))), 'SHAPE_MISMATCH');
  const big = Buffer.alloc(8);
  big.writeBigInt64LE(1n << 40n);
  assert.equal(problemOf(() => SafetensorsReader.open(rawFile('i64', { a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, big)).read('a')), 'VALUE_OUT_OF_RANGE');
});

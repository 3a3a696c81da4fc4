import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import { MagvitTokenizer, createMagvitConfig, despecklePalette, magvitConfigToJson, parseMagvitConfig, type PaletteColour } from '@showo/tokenizer-magvit';

const PALETTE: PaletteColour[] = [
  [255, 255, 255],
  [220, 40, 40],
  [40, 80, 220],
];

function paint(w: number, h: number, cells: Array<[number, number, number]>): Uint8Array {
  const img = new Uint8Array(w * h * 3).fill(255);
  for (const [x, y, k] of cells) img.set(PALETTE[k]!, (y * w + x) * 3);
  return img;
}

test('despecklePalette relabels regions below the size with their surroundings and keeps the rest', () => {
  const cells: Array<[number, number, number]> = [];
  for (let y = 2; y < 7; y++) for (let x = 2; x < 7; x++) cells.push([x, y, 2]); // 25-pixel blue square
  cells.push([4, 4, 1]); // one red pixel inside it
  cells.push([12, 12, 1], [13, 12, 1]); // a 2-pixel red speck on white
  const img = paint(16, 16, cells);
  const out = despecklePalette(img, 16, 16, PALETTE, 4);
  const at = (x: number, y: number) => Array.from(out.subarray((y * 16 + x) * 3, (y * 16 + x) * 3 + 3));
  assert.deepEqual(at(4, 4), [...PALETTE[2]!], 'the speck inside the square takes the square colour');
  assert.deepEqual(at(12, 12), [...PALETTE[0]!], 'the speck on the background becomes background');
  assert.deepEqual(at(2, 2), [...PALETTE[2]!], 'the square stays');
  assert.deepEqual(Array.from(despecklePalette(img, 16, 16, PALETTE, 1)), Array.from(img), 'minArea 1 changes nothing');
  assert.throws(() => despecklePalette(img, 15, 16, PALETTE, 4), /expected 15×16×3 bytes/);
});

test('paletteMinRegion: carried by the config JSON and applied when codes are decoded', async () => {
  await initBackend('wasm');
  const base = { ch: 8, chMult: [1, 2], numResBlocks: [0, 1], resolution: 16, codebookDim: 4, normGroups: 4, palette: PALETTE };
  const plainConfig = createMagvitConfig(base);
  const config = createMagvitConfig({ ...base, paletteMinRegion: 6 });
  assert.equal(parseMagvitConfig(magvitConfigToJson(config)).paletteMinRegion, 6);
  assert.throws(() => createMagvitConfig({ ...base, paletteMinRegion: -1 }), /palette_min_region/);
  const plain = MagvitTokenizer.create(plainConfig, { seed: 3 });
  const clean = MagvitTokenizer.create(config, { seed: 3 });
  const codes = [Array.from({ length: 64 }, (_, i) => (i * 5) % 16)];
  const before = tf.memory().numTensors;
  const a = plain.decodeCodes(codes);
  const b = clean.decodeCodes(codes);
  const toBytes = (t: tf.Tensor) => Uint8Array.from(t.dataSync(), (v) => Math.round((v + 1) * 127.5));
  assert.deepEqual(Array.from(toBytes(b)), Array.from(despecklePalette(toBytes(a), 16, 16, PALETTE, 6)));
  assert.notDeepEqual(Array.from(toBytes(b)), Array.from(toBytes(a)), 'an untrained decoder paints specks, so cleaning must change something');
  tf.dispose([a, b]);
  assert.equal(tf.memory().numTensors, before);
  plain.dispose();
  clean.dispose();
});

test('decodeCodesAsync gives decodeCodes\'s images, codes given as rows or as a tensor, and frees what it makes', async () => {
  await initBackend('wasm');
  const config = createMagvitConfig({ ch: 8, chMult: [1, 2], numResBlocks: [0, 1], resolution: 16, codebookDim: 4, normGroups: 4, palette: PALETTE, paletteMinRegion: 6 });
  const model = MagvitTokenizer.create(config, { seed: 5 });
  const rows = [Array.from({ length: 64 }, (_, i) => (i * 7) % 16), Array.from({ length: 64 }, (_, i) => (i * 3) % 16)];
  const before = tf.memory().numTensors;
  const sync = model.decodeCodes(rows);
  const fromRows = await model.decodeCodesAsync(rows);
  const codeTensor = tf.tensor2d(rows, [2, 64], 'int32');
  const fromTensor = await model.decodeCodesAsync(codeTensor);
  assert.deepEqual(Array.from(await fromRows.data()), Array.from(await sync.data()));
  assert.deepEqual(Array.from(await fromTensor.data()), Array.from(await sync.data()));
  await assert.rejects(model.decodeCodesAsync([[99, ...rows[0]!.slice(1)]]), /99/);
  tf.dispose([sync, fromRows, fromTensor, codeTensor]);
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

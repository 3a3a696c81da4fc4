import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { initBackend } from '@showo/runtime';
import {
  centerCrop,
  codesToImages,
  CorruptImageError,
  createMagvitConfig,
  decodeImage,
  encodePng,
  ImageShapeError,
  imagesToTensor,
  imageTransform,
  loadImageBatch,
  MagvitTokenizer,
  readImage,
  resizeImage,
  tensorToImages,
  UnsupportedImageError,
  writePng,
  type RgbImage,
} from '@showo/tokenizer-magvit';

let tmp: string;
before(async () => {
  await initBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'magvit-img-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function gradient(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set([(x * 255) / Math.max(width - 1, 1), (y * 255) / Math.max(height - 1, 1), 77], (y * width + x) * 3);
  return { width, height, data };
}

describe('image files', () => {
  it('PNG round-trips exactly; alpha is dropped and grey expands to RGB, as PIL convert("RGB")', async () => {
    const img = gradient(7, 5);
    const file = path.join(tmp, 'a.png');
    await writePng(file, img);
    assert.deepEqual(await readImage(file), img);
    const rgba = new pngjs.PNG({ width: 2, height: 1 });
    rgba.data = Buffer.from([10, 20, 30, 0, 40, 50, 60, 128]);
    const back = decodeImage(pngjs.PNG.sync.write(rgba));
    assert.deepEqual(Array.from(back.data), [10, 20, 30, 40, 50, 60]);
    const grey = new pngjs.PNG({ width: 1, height: 1 });
    grey.data = Buffer.from([90, 90, 90, 255]);
    assert.deepEqual(Array.from(decodeImage(pngjs.PNG.sync.write(grey, { colorType: 0 })).data), [90, 90, 90]);
  });

  it('decodes JPEG (within JPEG loss)', () => {
    const img = gradient(16, 16);
    const rgba = new Uint8Array(16 * 16 * 4);
    for (let i = 0; i < 256; i++) rgba.set([...img.data.subarray(3 * i, 3 * i + 3), 255], 4 * i);
    const bytes = jpeg.encode({ width: 16, height: 16, data: rgba }, 95).data;
    const back = decodeImage(bytes, 'g.jpg');
    assert.equal(back.width, 16);
    assert.ok(back.data.every((v, i) => Math.abs(v - img.data[i]) <= 12));
  });

  it('names the file of a corrupt or unsupported image', async () => {
    const good = encodePng(gradient(8, 8));
    const truncated = path.join(tmp, 'truncated.png');
    fs.writeFileSync(truncated, good.subarray(0, good.length - 30));
    await assert.rejects(readImage(truncated), (e: unknown) => e instanceof CorruptImageError && e.file === truncated && e.message.includes(truncated));
    const gif = path.join(tmp, 'x.gif');
    fs.writeFileSync(gif, Buffer.from('GIF89a....'));
    await assert.rejects(readImage(gif), (e: unknown) => e instanceof UnsupportedImageError && e.message.includes(gif));
    const badJpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3]);
    assert.throws(() => decodeImage(badJpeg, 'bad.jpg'), (e: unknown) => e instanceof CorruptImageError && e.message.startsWith('bad.jpg'));
  });
});

describe('preprocessing (Show-o image_transform)', () => {
  it('area filter halves by averaging 2×2 blocks; a constant image stays constant under every filter', () => {
    const img: RgbImage = { width: 2, height: 2, data: Uint8Array.from([0, 0, 0, 10, 20, 30, 20, 40, 60, 30, 60, 90]) };
    assert.deepEqual(Array.from(resizeImage(img, 1, 1, 'area').data), [15, 30, 45]);
    const flat: RgbImage = { width: 13, height: 9, data: new Uint8Array(13 * 9 * 3).fill(200) };
    for (const f of ['bicubic', 'bilinear', 'area'] as const) {
      for (const [w, h] of [[5, 4], [31, 20]]) assert.ok(resizeImage(flat, w, h, f).data.every((v) => v === 200), `${f} ${w}×${h}`);
    }
  });

  it('bicubic upscaling follows PIL’s a = −0.5 kernel, edge renormalisation and overshoot', () => {
    // 2 → 4 pixels, worked by hand with PIL's precompute_coeffs: output 0 has taps (0.867, −0.070) renormalised to
    // (1.088, −0.088) → −8.8 → 0; output 1 (0.867, 0.227) → 20.7 → 21; outputs 2 and 3 mirror them around 50.
    const img: RgbImage = { width: 2, height: 1, data: Uint8Array.from([0, 0, 0, 100, 100, 100]) };
    const out = Array.from(resizeImage(img, 4, 1, 'bicubic').data).filter((_, i) => i % 3 === 0);
    assert.deepEqual(out, [0, 21, 79, 109]);
  });

  it('resizes the shorter side, truncates the longer, centre-crops with round-half-even offsets', () => {
    const wide = gradient(40, 20);
    const t = imageTransform(wide, 16, 'area');
    assert.equal(t.width, 16);
    assert.equal(t.height, 16);
    // 40×20 → 32×16, crop left = round(8) = 8: column 0 of the crop is column 8 of the resized image.
    const resized = resizeImage(wide, 32, 16, 'area');
    assert.deepEqual(Array.from(t.data.subarray(0, 3)), Array.from(resized.data.subarray(8 * 3, 8 * 3 + 3)));
    const five = gradient(5, 1);
    assert.deepEqual(Array.from(centerCrop(five, 2, 1).data), Array.from(five.data.subarray(6, 12))); // (5−2)/2 = 1.5 → 2
    assert.equal(imageTransform(gradient(33, 50), 32).height, 32);
  });

  it('pixels ↔ tensors: [−1, 1] in, clamp-and-round out', () => {
    const img: RgbImage = { width: 1, height: 1, data: Uint8Array.from([0, 128, 255]) };
    const t = imagesToTensor([img]);
    assert.deepEqual(Array.from(t.dataSync()), [-1, Math.fround((128 / 255 - 0.5) / 0.5), 1]);
    const out = tf.tensor4d([-2, 0, 0.999, 2, -1, 1], [2, 1, 1, 3]);
    const imgs = tensorToImages(out);
    assert.deepEqual(Array.from(imgs[0].data), [0, 128, 255]);
    assert.deepEqual(Array.from(imgs[1].data), [255, 0, 255]);
    tf.dispose([t, out]);
  });

  it('typed errors for wrong sizes and channel counts', () => {
    assert.throws(() => imagesToTensor([gradient(4, 4), gradient(5, 4)]), ImageShapeError);
    assert.throws(() => imagesToTensor([{ width: 2, height: 2, data: new Uint8Array(16) }]), /4 channels/);
    assert.throws(() => imagesToTensor([]), ImageShapeError);
    const t = tf.zeros([1, 2, 2, 4]);
    assert.throws(() => tensorToImages(t), ImageShapeError);
    t.dispose();
  });

  it('files → tokens → PNG, in a batch', async () => {
    const files = [path.join(tmp, 'p0.png'), path.join(tmp, 'p1.png')];
    await writePng(files[0], gradient(24, 20));
    await writePng(files[1], gradient(20, 30));
    const m = MagvitTokenizer.create(createMagvitConfig({ ch: 32, chMult: [1, 2], resolution: 16, codebookDim: 4 }));
    const start = tf.memory().numTensors;
    const batch = await loadImageBatch(files, 16);
    assert.deepEqual(batch.shape, [2, 16, 16, 3]);
    const codes = m.encodeToCodes(batch);
    const decoded = m.decodeCodes(codes);
    const pngs = tensorToImages(decoded).map(encodePng);
    assert.equal(decodeImage(pngs[1]).width, 16);
    assert.deepEqual(codesToImages(m, codes)[1], decodeImage(pngs[1]));
    tf.dispose([batch, codes, decoded]);
    assert.equal(tf.memory().numTensors, start);
    m.dispose();
  });
});

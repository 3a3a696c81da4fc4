import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, initBackend } from '@showo/runtime';
import {
  CodeRangeError,
  ImageShapeError,
  MagvitTokenizer,
  PatchCodebook,
  createMagvitConfig,
  magvitEncoderLoss,
  type RgbImage,
} from '@showo/tokenizer-magvit';

const WHITE = [255, 255, 255] as const;
const RED = [220, 40, 40] as const;
const BLUE = [40, 80, 220] as const;
const PALETTE = [WHITE, RED, BLUE];

/** A 16×16 white image with filled discs / boxes drawn in palette colours. */
function draw(shapes: { kind: 'disc' | 'box'; cx: number; cy: number; r: number; colour: readonly [number, number, number] }[], size = 16): RgbImage {
  const data = new Uint8Array(size * size * 3).fill(255);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (const s of shapes) {
        const dx = x + 0.5 - s.cx;
        const dy = y + 0.5 - s.cy;
        const inside = s.kind === 'disc' ? dx * dx + dy * dy <= s.r * s.r : Math.abs(dx) <= s.r && Math.abs(dy) <= s.r;
        if (inside) data.set(s.colour, (y * size + x) * 3);
      }
    }
  }
  return { width: size, height: size, data };
}

const examples = [
  draw([{ kind: 'disc', cx: 5.3, cy: 6.1, r: 3.2, colour: RED }]),
  draw([{ kind: 'box', cx: 9.5, cy: 7, r: 2.5, colour: BLUE }]),
  draw([
    { kind: 'disc', cx: 4, cy: 4, r: 2.6, colour: BLUE },
    { kind: 'box', cx: 11.2, cy: 11.7, r: 3, colour: RED },
  ]),
];

before(async () => {
  await initBackend('wasm');
});

describe('PatchCodebook', () => {
  const codebook = PatchCodebook.fromImages(examples, { patch: 4, palette: PALETTE, codebookDim: 8 });

  it('decodes the codes of every image it was built from to exactly that image', () => {
    for (const img of examples) {
      const codes = codebook.encode(img);
      assert.equal(codes.length, 16);
      assert.deepEqual(codebook.decode(codes, [4, 4]), img);
    }
  });

  it('puts the palette class in the top bits and the mask slot in the low bits', () => {
    assert.equal(codebook.colourBits, 2);
    assert.equal(codebook.maskBits, 6);
    const white = draw([]);
    assert.deepEqual(Array.from(codebook.encode(white)), new Array(16).fill(0));
    const allRed: RgbImage = { width: 4, height: 4, data: new Uint8Array(48).map((_, i) => RED[i % 3]!) };
    assert.deepEqual(Array.from(codebook.encode(allRed)), [1 << 6], 'a uniform red patch is class 1, slot 0');
    for (const c of codebook.encode(examples[1]!)) assert.ok(c === 0 || c >> 6 === 2, `code ${c} of a blue-only image names another class`);
    assert.ok(codebook.masks.length > 4 && codebook.masks.length < 64);
  });

  it('gives a mask it never saw the slot of the nearest known mask, and maps near-palette pixels to the palette', () => {
    const img = draw([{ kind: 'box', cx: 8, cy: 8, r: 6.5, colour: RED }]);
    // One pixel flipped inside a patch of the box's top edge: an unseen mask, one pixel away from a known one.
    const probe = { ...img, data: Uint8Array.from(img.data) };
    const known = codebook.encode(img);
    probe.data.set([221, 38, 41], (1 * 16 + 5) * 3);
    const got = codebook.encode(probe);
    assert.equal(got.filter((c, i) => c !== known[i]).length <= 1, true);
    assert.equal(got[1]! >> 6, 1, 'the patch keeps its class');
  });

  it('survives JSON and refuses what it cannot represent', () => {
    const again = PatchCodebook.fromJSON(JSON.parse(JSON.stringify(codebook)));
    for (const img of examples) assert.deepEqual(again.encode(img), codebook.encode(img));
    assert.throws(() => PatchCodebook.fromJSON({ format: 'other' }), InvalidArgumentError);
    assert.throws(() => PatchCodebook.fromJSON({ ...codebook.toJSON(), masks: [3, 3] }), /twice/);
    assert.throws(() => PatchCodebook.fromJSON({ ...codebook.toJSON(), palette: [[255, 255, 255], [300, 0, 0]] }), /palette entry/);
    assert.throws(() => PatchCodebook.fromImages(examples, { patch: 4, palette: PALETTE, codebookDim: 2 }), /cannot hold/);
    assert.throws(() => PatchCodebook.fromJSON({ ...codebook.toJSON(), codebookDim: 4 }), /do not fit/);
    // Built with fewer mask bits than masks, it keeps the most frequent ones and maps the rest to the nearest.
    const small = PatchCodebook.fromImages(examples, { patch: 4, palette: PALETTE, codebookDim: 4 });
    assert.equal(small.masks.length, 3);
    assert.deepEqual(small.masks, codebook.masks.slice(0, 3));
    assert.throws(() => codebook.encode({ width: 6, height: 6, data: new Uint8Array(108) }), ImageShapeError);
    assert.throws(() => codebook.encode({ width: 8, height: 8, data: new Uint8Array(10) }), ImageShapeError);
    assert.throws(() => codebook.decode([0, 1, 2], [2, 2]), CodeRangeError);
    assert.throws(() => codebook.decode([0, 0, 0, 256], [2, 2]), CodeRangeError);
  });

  it('renumbers its slots by geometry without changing any picture', () => {
    // Every partial mask of a 4×4 patch that is a rectangle of foreground: 99 masks, many more than three images hold.
    const rects: RgbImage[] = [];
    for (let y0 = 0; y0 < 4; y0++) for (let y1 = y0; y1 < 4; y1++) for (let x0 = 0; x0 < 4; x0++) for (let x1 = x0; x1 < 4; x1++) {
      const data = new Uint8Array(4 * 4 * 3).fill(255);
      for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) data.set(RED, (y * 4 + x) * 3);
      rects.push({ width: 4, height: 4, data });
    }
    // Each rectangle repeated an arbitrary number of times, so that the frequency numbering carries no geometry.
    const repeated = rects.flatMap((r, i) => Array.from({ length: 1 + ((i * 37) % 11) }, () => r));
    const byFrequency = PatchCodebook.fromImages(repeated, { patch: 4, palette: PALETTE, codebookDim: 9 });
    const geometric = byFrequency.withGeometricSlots();
    assert.equal(byFrequency.masks.length, 99); // 100 rectangles, one of them the full patch
    assert.deepEqual([...geometric.masks.filter((m) => m !== 0)].sort((a, b) => a - b), [...byFrequency.masks].sort((a, b) => a - b));
    for (const img of rects) assert.deepEqual(geometric.decode(geometric.encode(img), [1, 1]), img);
    assert.equal(geometric.code(1, 0xffff), 1 << geometric.maskBits, 'the full patch keeps slot 0');
    // The most significant mask bit splits the masks along their main axis of variation: the two halves' mean
    // masks differ by far more than those of the frequency numbering, whose bits are arbitrary.
    const split = (book: PatchCodebook) => {
      const half = 2 ** (book.maskBits - 1);
      const mean = (side: number) => {
        const ms = book.masks.map((m, i) => ({ m, slot: i + 1 })).filter((x) => x.m !== 0 && (x.slot >= half ? 1 : 0) === side).map((x) => x.m);
        return Array.from({ length: 16 }, (_, k) => ms.reduce((a, m) => a + ((m >>> k) & 1), 0) / Math.max(ms.length, 1));
      };
      const [a, b] = [mean(0), mean(1)];
      return Math.hypot(...a.map((v, k) => v - b[k]!));
    };
    assert.ok(split(geometric) > 3 * split(byFrequency), `geometric ${split(geometric)} vs frequency ${split(byFrequency)}`);
    // Unused slots survive JSON and decode as background.
    const again = PatchCodebook.fromJSON(JSON.parse(JSON.stringify(geometric)));
    assert.deepEqual(again.masks, geometric.masks);
    const unused = geometric.masks.indexOf(0) + 1;
    assert.ok(unused > 0, 'a 9-bit tree over 100 masks leaves slots empty');
    assert.deepEqual(geometric.decode([(1 << geometric.maskBits) + unused], [1, 1]).data, new Uint8Array(48).fill(255));
  });
});

describe('magvitEncoderLoss', () => {
  const config = createMagvitConfig({ ch: 8, chMult: [1, 2, 2], numResBlocks: [0, 1, 1], resolution: 16, codebookDim: 8, normGroups: 4 });
  const codebook = PatchCodebook.fromImages(examples, { patch: 4, palette: PALETTE, codebookDim: 8 });
  const toTensor = (imgs: RgbImage[]) => tf.tensor4d(Float32Array.from(imgs.flatMap((i) => Array.from(i.data, (v) => v / 127.5 - 1))), [imgs.length, 16, 16, 3]);

  it('is the mean logistic loss of the latent signs against the target bits, with bit and code accuracies', () => {
    const model = MagvitTokenizer.create(config, { seed: 2 });
    const x = toTensor(examples);
    const targets = examples.map((i) => Array.from(codebook.encode(i)));
    const start = tf.memory().numTensors;
    const l = magvitEncoderLoss(model, x, targets);
    const z = model.forwardEncoder(x);
    const zs = z.dataSync();
    const D = 8;
    let sum = 0;
    let bitsRight = 0;
    let codesRight = 0;
    targets.flat().forEach((code, p) => {
      let all = true;
      for (let j = 0; j < D; j++) {
        const t = (code >>> (D - 1 - j)) & 1 ? 1 : -1;
        const m = t * zs[p * D + j]!;
        sum += Math.log1p(Math.exp(-m));
        if (m > 0) bitsRight++;
        else all = false;
      }
      if (all) codesRight++;
    });
    const n = targets.flat().length;
    assert.ok(Math.abs(l.total.dataSync()[0]! - sum / (n * D)) < 1e-5);
    assert.ok(Math.abs(l.bitAccuracy.dataSync()[0]! - bitsRight / (n * D)) < 1e-6);
    assert.ok(Math.abs(l.codeAccuracy.dataSync()[0]! - codesRight / n) < 1e-6);
    tf.dispose([l.total, l.bitAccuracy, l.codeAccuracy, z]);
    assert.equal(tf.memory().numTensors, start);
    assert.throws(() => magvitEncoderLoss(model, x, targets.slice(1)), ImageShapeError);
    assert.throws(() => magvitEncoderLoss(model, x, targets.map((r) => r.map(() => 256))), CodeRangeError);
    x.dispose();
    model.dispose();
  });

  it('trains an encoder to reproduce the codebook (only encoder parameters get gradients)', () => {
    const model = MagvitTokenizer.create(config, { seed: 2 });
    const x = toTensor(examples);
    const targets = examples.map((i) => Array.from(codebook.encode(i)));
    const vars = model.trainableVariables();
    const optimizer = tf.train.adam(1e-2);
    const accuracy = () => tf.tidy(() => magvitEncoderLoss(model, x, targets).codeAccuracy.dataSync()[0]!);
    const first = accuracy();
    for (let step = 0; step < 120; step++) {
      const { value, grads } = tf.variableGrads(() => magvitEncoderLoss(model, x, targets).total, vars);
      for (const [name, g] of Object.entries(grads)) {
        if (!name.includes('encoder')) assert.equal(tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]), 0, `${name} has a gradient`);
      }
      optimizer.applyGradients(grads as unknown as Parameters<typeof optimizer.applyGradients>[0]);
      tf.dispose([value, ...Object.values(grads)]);
    }
    const last = accuracy();
    assert.ok(last > 0.95 && last > first, `code accuracy ${first} → ${last}`);
    const codes = model.encodeToCodes(x);
    assert.ok(Array.from(codes.dataSync()).filter((c, i) => c === targets.flat()[i]).length / 48 > 0.95);
    tf.dispose([codes, x]);
    optimizer.dispose();
    model.dispose();
  });
});

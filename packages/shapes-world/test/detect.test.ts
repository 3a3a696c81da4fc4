import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  COLORS,
  PALETTE,
  Rng,
  classifyPixel,
  detectObjects,
  insideShape,
  randomScene,
  renderScene,
  sample,
  whereOf,
  type Color,
  type Shape,
} from '@showo/shapes-world';
import { objectKeys } from './helpers.js';

function blank(): Uint8Array {
  return new Uint8Array(64 * 64 * 3).fill(255);
}

function paint(img: Uint8Array, color: Color, inside: (x: number, y: number) => boolean): void {
  const [r, g, b] = PALETTE[color];
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) {
      if (!inside(x, y)) continue;
      const i = (y * 64 + x) * 3;
      img[i] = r;
      img[i + 1] = g;
      img[i + 2] = b;
    }
  }
}

test('pixel colours: exact palette, nearest within 80, background beyond 80', () => {
  assert.equal(classifyPixel(255, 255, 255), -1);
  COLORS.forEach((c, k) => assert.equal(classifyPixel(...PALETTE[c]), k));
  assert.equal(classifyPixel(230, 60, 50), COLORS.indexOf('red'));
  assert.equal(classifyPixel(0, 0, 0), -1, 'black is far from everything');
  // 81 from red along blue only, and farther from every other colour and white.
  assert.equal(classifyPixel(220, 40, 121), -1);
  assert.equal(classifyPixel(220, 40, 120), COLORS.indexOf('red'), 'exactly 80 still counts');
  // Nearer to white than to yellow.
  assert.equal(classifyPixel(250, 240, 200), -1);
});

test('detector finds exactly the rendered objects on 600 random scenes (shape, colour, centre, where)', () => {
  const rng = new Rng(2024);
  let objects = 0;
  for (let i = 0; i < 600; i++) {
    // Mix free random scenes (up to 4 objects) with counting captions (same colour, 2 px apart at worst).
    const scene = i % 3 === 2 ? sample('t2i', rng, { allowHeldOut: true, captionWeights: { counting: 1 } }).scene : randomScene(rng, { maxObjects: 4, allowHeldOut: true });
    const found = detectObjects(renderScene(scene));
    assert.deepEqual(objectKeys(found), objectKeys(scene.objects), `scene ${i}: ${JSON.stringify(scene)}`);
    for (const d of found) {
      assert.equal(d.iou, 1);
      const src = scene.objects.find((o) => o.cx === d.cx && o.cy === d.cy)!;
      assert.deepEqual(whereOf(d), whereOf(src));
    }
    objects += found.length;
  }
  assert.ok(objects > 1000);
});

test('detector is robust to colour noise below half the palette spacing', () => {
  const rng = new Rng(5);
  for (let i = 0; i < 100; i++) {
    const scene = randomScene(rng, { maxObjects: 3, allowHeldOut: true });
    const img = renderScene(scene);
    for (let k = 0; k < img.length; k++) img[k] = Math.max(0, Math.min(255, img[k]! + rng.range(-15, 15)));
    assert.deepEqual(objectKeys(detectObjects(img)), objectKeys(scene.objects));
  }
});

test('ideal squares and triangles of any size and centre parity, and generated circle sizes, are classified correctly', () => {
  // Circles are limited to lattice-aligned ones (even s, integer centre): a circle whose rim misses the lattice
  // has a box narrower than s + 1, so the SPEC's ideal (s = box side − 1) is too small and small ones read as
  // squares. Generated images only contain s = 12 and 20 at integer centres.
  const cases: [Shape, number, number][] = [];
  for (let s = 8; s <= 30; s++) for (const off of [0, 0.5]) cases.push(['square', s, off], ['triangle', s, off]);
  for (let s = 8; s <= 30; s += 2) cases.push(['circle', s, 0]);
  for (const [shape, s, off] of cases) {
    const cx = 30 + off, cy = 31 + off;
    const img = blank();
    paint(img, 'purple', (x, y) => insideShape(shape, s, x - cx, y - cy));
    const found = detectObjects(img);
    assert.equal(found.length, 1);
    assert.equal(found[0]!.shape, shape, `${shape} s=${s} off=${off} iou=${found[0]!.iou}`);
    if (off === 0 || shape === 'square') assert.deepEqual([found[0]!.cx, found[0]!.cy], [cx, cy]);
  }
  // A 12×12 block: even side, so its centre is a half-integer and s = 11.
  const img = blank();
  paint(img, 'green', (x, y) => x >= 10 && x <= 21 && y >= 30 && y <= 41);
  const [sq] = detectObjects(img);
  assert.deepEqual({ shape: sq!.shape, cx: sq!.cx, cy: sq!.cy, iou: sq!.iou, pixels: sq!.pixels }, { shape: 'square', cx: 15.5, cy: 35.5, iou: 1, pixels: 144 });
  assert.deepEqual(sq!.bbox, { x0: 10, y0: 30, x1: 21, y1: 41 });
});

test('non-shapes are unknown, specks are ignored, colours split components, 4-connectivity', () => {
  const img = blank();
  paint(img, 'red', (x, y) => x >= 5 && x <= 24 && y >= 5 && y <= 7); // 20×3 bar
  paint(img, 'blue', (x, y) => x >= 40 && x <= 42 && y >= 40 && y <= 42); // 9 px speck
  paint(img, 'yellow', (x, y) => x >= 40 && x <= 59 && y >= 10 && y <= 12); // yellow bar on top of …
  paint(img, 'orange', (x, y) => x >= 40 && x <= 59 && y >= 13 && y <= 15); // … an orange one: two objects
  const found = detectObjects(img);
  assert.deepEqual(
    found.map((d) => [d.color, d.shape]),
    [
      ['red', 'unknown'],
      ['yellow', 'unknown'],
      ['orange', 'unknown'],
    ],
  );
  // Two squares touching only diagonally are two components.
  const diag = blank();
  paint(diag, 'blue', (x, y) => (x >= 10 && x <= 19 && y >= 10 && y <= 19) || (x >= 20 && x <= 29 && y >= 20 && y <= 29));
  assert.equal(detectObjects(diag).length, 2);
});

test('accepts RGBA and rejects wrong lengths', () => {
  const scene = randomScene(new Rng(1), { minObjects: 2, maxObjects: 2 });
  const rgb = renderScene(scene);
  const rgba = new Uint8ClampedArray(64 * 64 * 4);
  for (let p = 0; p < 64 * 64; p++) {
    rgba[p * 4] = rgb[p * 3]!;
    rgba[p * 4 + 1] = rgb[p * 3 + 1]!;
    rgba[p * 4 + 2] = rgb[p * 3 + 2]!;
    rgba[p * 4 + 3] = 255;
  }
  assert.deepEqual(detectObjects(rgba), detectObjects(rgb));
  assert.throws(() => detectObjects(new Uint8Array(100)), /expected 12288/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PALETTE, SIZE_PIXELS, insideShape, renderScene, rowHalfWidth, type Scene, type Shape } from '@showo/shapes-world';

const px = (img: Uint8Array, x: number, y: number, size = 64) => Array.from(img.subarray((y * size + x) * 3, (y * size + x) * 3 + 3));

test('empty scene is all white, RGB row-major 64×64×3', () => {
  const img = renderScene({ objects: [] });
  assert.equal(img.length, 64 * 64 * 3);
  assert.ok(img.every((v) => v === 255));
});

test('every pixel follows the SPEC rule exactly (brute force over the canvas)', () => {
  for (const shape of ['circle', 'square', 'triangle'] as Shape[]) {
    for (const size of ['small', 'large'] as const) {
      const cx = 30, cy = 27;
      const img = renderScene({ objects: [{ shape, color: 'blue', size, cx, cy }] });
      const s = SIZE_PIXELS[size];
      let inside = 0;
      for (let y = 0; y < 64; y++) {
        for (let x = 0; x < 64; x++) {
          const want = insideShape(shape, s, x - cx, y - cy) ? [...PALETTE.blue] : [255, 255, 255];
          if (want[0] !== 255) inside++;
          assert.deepEqual(px(img, x, y), want, `${shape} ${size} at (${x},${y})`);
        }
      }
      assert.ok(inside > 0);
    }
  }
});

test('pixel counts and landmark pixels of each shape', () => {
  const count = (scene: Scene) => {
    const img = renderScene(scene);
    let n = 0;
    for (let i = 0; i < img.length; i += 3) if (img[i] !== 255 || img[i + 1] !== 255 || img[i + 2] !== 255) n++;
    return n;
  };
  assert.equal(count({ objects: [{ shape: 'square', color: 'red', size: 'small', cx: 20, cy: 20 }] }), 13 * 13);
  assert.equal(count({ objects: [{ shape: 'square', color: 'red', size: 'large', cx: 20, cy: 20 }] }), 21 * 21);
  // Triangle s=12: rows dy=-6..6 have 2⌊(dy+6)/2⌋+1 pixels: 1,1,3,3,…,11,11,13 = 85.
  assert.equal(count({ objects: [{ shape: 'triangle', color: 'red', size: 'small', cx: 20, cy: 20 }] }), 85);
  // Circle s=12: lattice points with dx²+dy² ≤ 36.
  let lattice = 0;
  for (let dy = -6; dy <= 6; dy++) for (let dx = -6; dx <= 6; dx++) if (dx * dx + dy * dy <= 36) lattice++;
  assert.equal(count({ objects: [{ shape: 'circle', color: 'red', size: 'small', cx: 20, cy: 20 }] }), lattice);

  const img = renderScene({ objects: [{ shape: 'triangle', color: 'green', size: 'large', cx: 32, cy: 32 }] });
  const green = [...PALETTE.green];
  assert.deepEqual(px(img, 32, 22), green, 'apex');
  assert.deepEqual(px(img, 31, 22), [255, 255, 255]);
  assert.deepEqual(px(img, 31, 23), [255, 255, 255], '|dx| ≤ 0.5 on the second row');
  assert.deepEqual(px(img, 31, 24), green);
  assert.deepEqual(px(img, 22, 42), green, 'base spans the full width');
  assert.deepEqual(px(img, 42, 42), green);
  assert.deepEqual(px(img, 32, 43), [255, 255, 255]);
  const circle = renderScene({ objects: [{ shape: 'circle', color: 'red', size: 'large', cx: 32, cy: 32 }] });
  assert.deepEqual(px(circle, 42, 32), [...PALETTE.red], 'dx = s/2 is inside');
  assert.deepEqual(px(circle, 39, 39), [...PALETTE.red], '7²+7² ≤ 10²');
  assert.deepEqual(px(circle, 40, 39), [255, 255, 255], '8²+7² > 10²');
});

test('later objects are drawn over earlier ones; objects are clipped at the edge', () => {
  const img = renderScene({
    objects: [
      { shape: 'square', color: 'red', size: 'large', cx: 20, cy: 20 },
      { shape: 'square', color: 'yellow', size: 'small', cx: 24, cy: 24 },
      { shape: 'circle', color: 'purple', size: 'large', cx: 0, cy: 63 },
    ],
  });
  assert.deepEqual(px(img, 24, 24), [...PALETTE.yellow]);
  assert.deepEqual(px(img, 12, 12), [...PALETTE.red]);
  assert.deepEqual(px(img, 0, 63), [...PALETTE.purple]);
});

test('size ≠ 64 scales by nearest neighbour', () => {
  const scene: Scene = { objects: [{ shape: 'triangle', color: 'orange', size: 'small', cx: 10, cy: 50 }] };
  const small = renderScene(scene);
  const big = renderScene(scene, 128);
  assert.equal(big.length, 128 * 128 * 3);
  for (let y = 0; y < 128; y++) for (let x = 0; x < 128; x++) assert.deepEqual(px(big, x, y, 128), px(small, x >> 1, y >> 1));
  assert.throws(() => renderScene(scene, 0), /positive integer/);
});

test('rejects unknown shapes and colours', () => {
  assert.throws(() => renderScene({ objects: [{ shape: 'hexagon', color: 'red', size: 'small', cx: 5, cy: 5 } as never] }), /unknown shape/);
  assert.throws(() => renderScene({ objects: [{ shape: 'circle', color: 'pink', size: 'small', cx: 5, cy: 5 } as never] }), /unknown colour/);
});

test('row spans agree with the per-pixel rule, including half-integer offsets and odd sizes', () => {
  for (const shape of ['circle', 'square', 'triangle'] as Shape[]) {
    for (let s = 1; s <= 26; s++) {
      for (let dy2 = -30; dy2 <= 30; dy2++) {
        const w = rowHalfWidth(shape, s, dy2 / 2);
        for (let dx2 = -30; dx2 <= 30; dx2++) {
          assert.equal(Math.abs(dx2 / 2) <= w, insideShape(shape, s, dx2 / 2, dy2 / 2), `${shape} s=${s} dx=${dx2 / 2} dy=${dy2 / 2}`);
        }
      }
    }
  }
});

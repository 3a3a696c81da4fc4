import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordedUniforms, SeededRandom } from '@showo/runtime';
import { cosineMaskSchedule, IGNORE_INDEX, maskImageTokens, objectRegionCells, roundHalfEven, sampleObjectRegion } from '@showo/trainer';

test('round half to even and the float32 cosine schedule', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 3.5, 2.4, 2.6, 7].map(roundHalfEven), [0, 2, 2, 4, 2, 3, 7]);
  assert.equal(cosineMaskSchedule(0), 1);
  assert.ok(Math.abs(cosineMaskSchedule(1)) < 1e-7);
  assert.equal(Math.fround(cosineMaskSchedule(0.3)), cosineMaskSchedule(0.3));
});

test('exactly num positions are masked; the argsort output at j decides (not the num smallest uniforms)', () => {
  const N = 4;
  // t = 0.5 → p = cos(π/4) = 0.7071 → num = round(2.83) = 3. Uniforms [0.9, 0.1, 0.5, 0.3]:
  // perm = argsort = [1, 3, 2, 0]; masked where perm[j] < 3 → [T, F, T, T].
  const r = maskImageTokens([10, 11, 12, 13], 1, N, new RecordedUniforms([0.5, 0.9, 0.1, 0.5, 0.3]), { maskId: 99 });
  assert.equal(r.numMasked[0], 3);
  assert.deepEqual([...r.mask], [1, 0, 1, 1]);
  assert.deepEqual([...r.inputIds], [99, 11, 99, 99]);
  assert.deepEqual([...r.labels], [10, IGNORE_INDEX, 12, 13]);
  // The "num smallest uniforms" rule would have masked positions 1, 2, 3 instead.
});

test('at least one token is masked and min_masking_rate bounds the probability', () => {
  const r = maskImageTokens(new Int32Array(16), 1, 16, new RecordedUniforms([0.999999, ...new Array(16).fill(0.5)]), { maskId: 1 });
  assert.equal(r.numMasked[0], 1);
  const s = maskImageTokens(new Int32Array(16), 1, 16, new RecordedUniforms([0.999999, ...new Array(16).fill(0.5)]), { maskId: 1, minMaskingRate: 0.5 });
  assert.equal(s.maskProb[0], 0.5);
  assert.equal(s.numMasked[0], 8);
});

test('contiguous-region masking covers one rectangle of about num tokens', () => {
  const rng = new SeededRandom(5);
  for (let trial = 0; trial < 50; trial++) {
    const r = maskImageTokens(new Int32Array(2 * 64), 2, 64, rng, { maskId: 1, contiguousRegionProb: 1 });
    assert.ok(r.contiguous);
    for (let b = 0; b < 2; b++) {
      const cells = [...r.mask.subarray(b * 64, (b + 1) * 64)].flatMap((m, i) => (m ? [[i % 8, Math.floor(i / 8)]] : []));
      const xs = cells.map((c) => c[0]);
      const ys = cells.map((c) => c[1]);
      const w = Math.max(...xs) - Math.min(...xs) + 1;
      const h = Math.max(...ys) - Math.min(...ys) + 1;
      assert.equal(cells.length, w * h, 'a full rectangle');
      assert.ok(cells.length >= r.numMasked[b], `${cells.length} ≥ ${r.numMasked[b]}`);
      assert.ok(cells.length < r.numMasked[b] + Math.max(w, h), 'about num tokens');
    }
  }
  assert.throws(() => maskImageTokens(new Int32Array(10), 1, 10, rng, { maskId: 1, contiguousRegionProb: 1 }), /square/);
});

test('object-region masking masks exactly each row\'s regions; off, the official draws are unchanged', () => {
  const tokens = Int32Array.from({ length: 2 * 16 }, (_, i) => 100 + i);
  const regions = [[0, 1, 4, 5], [15]];
  // Uniforms: two timesteps, then the region decision (0.2 < 0.5 → regions); nothing else is drawn.
  const src = new RecordedUniforms([0.3, 0.6, 0.2]);
  const r = maskImageTokens(tokens, 2, 16, src, { maskId: 7, objectRegionProb: 0.5, objectRegions: regions, contiguousRegionProb: 0.5 });
  assert.ok(r.objectRegions && !r.contiguous);
  const masked = (b: number) => [...r.mask.subarray(b * 16, b * 16 + 16)].flatMap((m, i) => (m ? [i] : []));
  assert.deepEqual(masked(0), [0, 1, 4, 5]);
  assert.deepEqual(masked(1), [15]);
  assert.deepEqual([...r.numMasked], [4, 1]);
  assert.equal(r.labels[15], IGNORE_INDEX);
  assert.equal(r.labels[16 + 15], 100 + 31);
  assert.equal(r.inputIds[16 + 15], 7);
  // The decision lost (0.9 ≥ 0.5): the official path follows with the same draws as without the option.
  const draws = [0.3, 0.6, 0.9, 0.99, ...Array.from({ length: 32 }, (_, i) => ((i * 37) % 32) / 32)];
  const a = maskImageTokens(tokens, 2, 16, new RecordedUniforms(draws), { maskId: 7, objectRegionProb: 0.5, objectRegions: regions, contiguousRegionProb: 0.5 });
  const b = maskImageTokens(tokens, 2, 16, new RecordedUniforms([0.3, 0.6, ...draws.slice(3)]), { maskId: 7, contiguousRegionProb: 0.5 });
  assert.ok(!a.objectRegions);
  assert.deepEqual([...a.mask], [...b.mask]);
  // A row without a region takes random masking.
  const c = maskImageTokens(tokens, 2, 16, new RecordedUniforms([0.3, 0.6, 0.1, ...Array.from({ length: 16 }, (_, i) => i / 16)]), { maskId: 7, objectRegionProb: 1, objectRegions: [[], [3]] });
  assert.equal(c.mask.subarray(0, 16).reduce((x, y) => x + y, 0), c.numMasked[0]);
  assert.throws(() => maskImageTokens(tokens, 2, 16, new RecordedUniforms([0.3, 0.6, 0.1]), { maskId: 7, objectRegionProb: 1, objectRegions: [[1]] }), /objectRegions/);
  assert.throws(() => maskImageTokens(tokens, 2, 16, new RecordedUniforms([0.3, 0.6, 0.1]), { maskId: 7, objectRegionProb: 1, objectRegions: [[1], [16]] }), /outside/);
  assert.throws(() => maskImageTokens(tokens, 2, 16, new RecordedUniforms([0.3, 0.6]), { maskId: 7, objectRegionProb: 2, objectRegions: [[1], [2]] }), /objectRegionProb/);
});

test('object regions on the token grid: the cells under an object\'s bounding box, grown by the margin', () => {
  // A large (20 px) square at (10, 10) on a 16×16 grid of 4-px patches spans pixels 0…20 → cells 0…5 each way.
  const o = { shape: 'square', color: 'red', size: 'large', cx: 10, cy: 10 } as const;
  const cells = objectRegionCells([o], 16);
  assert.equal(cells.length, 36);
  assert.ok(cells.includes(0) && cells.includes(5 * 16 + 5) && !cells.includes(6));
  assert.equal(objectRegionCells([o], 16, 1).length, 49, 'clipped at the canvas edge');
  const scene = { objects: [o, { shape: 'circle', color: 'blue', size: 'small', cx: 50, cy: 50 } as const] };
  const rng = new SeededRandom(3);
  for (let i = 0; i < 20; i++) {
    const r = sampleObjectRegion(scene, 16, rng);
    assert.ok(r.length > 0);
    const ofFirst = r.filter((c) => c % 16 < 8).length;
    assert.ok(ofFirst === 0 || ofFirst >= 36);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordedUniforms, SeededRandom } from '@showo/runtime';
import { cosineMaskSchedule, IGNORE_INDEX, maskImageTokens, roundHalfEven } from '@showo/trainer';

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

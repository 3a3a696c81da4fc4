import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { RecordedUniforms } from '@showo/runtime';
import { MASKED, MaskGitScheduler, cosineSchedule, resolveSchedule, UnknownScheduleError, InvalidStepsError } from '@showo/sampler';
import { readJson, tensors, tinyDir } from './helpers.js';

const dir = tinyDir();

test('cosine schedule reproduces the official float32 value at 4/6', () => {
  assert.equal(cosineSchedule(4 / 6), Math.fround(0.49999997));
  assert.equal(Math.floor(Math.fround(64 * cosineSchedule(4 / 6))), 31);
});

test('schedules: names resolve, unknown names are typed errors', () => {
  for (const name of ['cosine', 'linear', 'pow2', 'pow0.5', 'sigmoid']) {
    const f = resolveSchedule(name);
    assert.ok(f(0.001) > 0.9 && f(0.001) <= 1, name);
    assert.ok(f(1) <= 1e-5, `${name} ${f(1)}`);
  }
  assert.throws(() => resolveSchedule('exp'), UnknownScheduleError);
  assert.throws(() => resolveSchedule('pow'), UnknownScheduleError);
  assert.throws(() => new MaskGitScheduler({ steps: 0 }), InvalidStepsError);
  assert.throws(() => new MaskGitScheduler({ steps: 2.5 }), InvalidStepsError);
  assert.throws(() => new MaskGitScheduler({ steps: 4, schedule: 'nope' }), UnknownScheduleError);
});

test('MaskGIT step reproduces maskgit.json step by step from the recorded probabilities', { skip: !dir }, () => {
  const fx = readJson(path.join(dir!, 'maskgit.json'));
  const st = tensors(path.join(dir!, 'maskgit.safetensors'));
  const off = 210;
  for (const run of fx.runs) {
    const b = run.input_ids_initial.length;
    const l = run.input_ids_initial[0].length;
    const n = 64;
    const sched = new MaskGitScheduler({ steps: run.timesteps, schedule: run.schedule, temperature: run.temperature });
    const init: number[] = [];
    for (const row of run.input_ids_initial) for (const id of row.slice(l - n - 1, l - 1)) init.push(id === 274 ? MASKED : id - off);
    let state = sched.initialState(init, b);
    let out;
    for (const s of run.steps) {
      const probs = st.get(`g${run.guidance_scale.toFixed(1)}.step${s.step}.probs`)!.data as Float32Array;
      const uniforms = new RecordedUniforms([...s.sample_uniforms, ...s.gumbel_uniforms]);
      out = sched.step(probs, state, uniforms);
      assert.equal(uniforms.consumed, 2 * b * n);
      const tag = `g${run.guidance_scale} step ${s.step}`;
      assert.deepEqual(Array.from(out.maskLen), s.mask_len, `${tag} mask_len`);
      assert.ok(Math.abs(out.temperature - s.temperature) < 1e-12, `${tag} temperature`);
      assert.deepEqual(Array.from(out.masking), s.masking.flat(), `${tag} masking`);
      assert.deepEqual(Array.from(out.drawn), s.sampled_codes_raw, `${tag} sampled_codes_raw`);
      const after = s.input_ids_after.map((row: number[]) => row.slice(l - n - 1, l - 1)).flat();
      assert.deepEqual(Array.from(out.state.codes, (c) => (c === MASKED ? 274 : c + off)), after, `${tag} ids after`);
      state = out.state;
    }
    assert.ok(out!.done);
    assert.deepEqual(Array.from(out!.sampled), run.final_sampled_ids.flat(), `g${run.guidance_scale} final`);
  }
});

test('mask_len is floor(N·γ) clamped to [1, unknown−1]; given tokens are never re-masked, even at high temperature', async () => {
  const { SeededRandom } = await import('@showo/runtime');
  const s = new MaskGitScheduler({ steps: 4, temperature: 50 });
  assert.equal(s.maskLength(0, 16, 16), Math.floor(Math.fround(16 * cosineSchedule(0.25))));
  assert.equal(s.maskLength(0, 16, 3), 2);
  assert.equal(s.maskLength(3, 16, 16), 1);
  assert.equal(s.maskLength(1, 16, 1), 1);
  const rng = new SeededRandom(9);
  const codes = Array.from({ length: 32 }, (_, i) => (i % 3 === 0 ? MASKED : i % 8));
  let state = s.initialState(codes, 2);
  const probs = new Float32Array(32 * 8).fill(1 / 8);
  for (let k = 0; k < 4; k++) {
    const out = s.step(probs, state, rng);
    for (let i = 0; i < 32; i++) if (codes[i] !== MASKED) assert.equal(out.state.codes[i], codes[i]);
    state = out.state;
  }
});

test('codeTemperature: 1 is the official step, below 1 sharpens each distribution, 0 takes the argmax', async () => {
  const { SeededRandom } = await import('@showo/runtime');
  const { sharpen, InvalidSamplingOptionError } = await import('@showo/sampler');
  const row = Float32Array.from([0.1, 0.2, 0.3, 0.4]);
  const half = sharpen(row, 4, 0.5);
  const z = 0.01 + 0.04 + 0.09 + 0.16;
  [0.01, 0.04, 0.09, 0.16].forEach((v, j) => assert.ok(Math.abs(half[j]! - v / z) < 1e-6, `τ 0.5 at ${j}: ${half[j]}`));
  assert.deepEqual(Array.from(sharpen(row, 4, 0)), [0, 0, 0, 1]);
  // Tiny probabilities at a low temperature: no underflow to NaN, the mode takes everything.
  const peaked = sharpen(Float32Array.from([1e-30, 1 - 1e-6, 1e-6, 0]), 4, 0.01);
  assert.ok(peaked.every(Number.isFinite) && peaked[1] === 1, Array.from(peaked).join(' '));
  assert.throws(() => new MaskGitScheduler({ steps: 2, codeTemperature: -1 }), InvalidSamplingOptionError);

  // Same uniforms: τ = 1 equals the default scheduler; τ = 0 draws every code at its mode.
  const n = 16;
  const k = 8;
  const rng = new SeededRandom(3);
  const probs = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += probs[i * k + j] = rng.next() + (j === i % k ? 2 : 0);
    for (let j = 0; j < k; j++) probs[i * k + j] /= sum;
  }
  const draws = { sample: Float32Array.from({ length: n }, () => rng.next()), gumbel: Float32Array.from({ length: n }, () => rng.next()) };
  const stepWith = (o: { codeTemperature?: number }) => {
    const s = new MaskGitScheduler({ steps: 4, ...o });
    return s.step(probs, s.initialState(new Array(n).fill(MASKED), 1), draws);
  };
  assert.deepEqual(stepWith({ codeTemperature: 1 }), stepWith({}));
  assert.deepEqual(Array.from(stepWith({ codeTemperature: 0 }).drawn), Array.from({ length: n }, (_, i) => i % k));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { RecordedUniforms, SeededRandom } from '@showo/runtime';
import { AutoregressiveSampler, InvalidSamplingOptionError, sampleInverseCdf, selectToken, tokenDistribution } from '@showo/sampler';
import { readJson, tensors, tinyDir } from './helpers.js';

const dir = tinyDir();

test('autoregressive selection reproduces mmu.json from the recorded distributions', { skip: !dir }, () => {
  const fx = readJson(path.join(dir!, 'mmu.json'));
  const st = tensors(path.join(dir!, 'mmu.safetensors'));
  for (const run of fx.runs) {
    const key = `topk${run.top_k ?? 'None'}`;
    const sampler = new AutoregressiveSampler({ temperature: run.temperature, topK: run.top_k ?? undefined, maxNewTokens: run.max_new_tokens, stopIds: [run.eot_token] });
    const uniforms = new RecordedUniforms(run.steps.map((s: { sample_uniform: number }) => s.sample_uniform));
    let state = sampler.initialState(1);
    run.steps.forEach((s: { sample_uniform: number; token: number }, i: number) => {
      const probs = st.get(`${key}.step${i}.probs`)!.data as Float32Array;
      assert.equal(sampleInverseCdf(probs, 0, probs.length, s.sample_uniform), s.token, `${key} step ${i} inverse CDF`);
      // log p as logits: softmax(log p) = p up to float32 noise, far below the recorded 1e-4 margin.
      const logits = Float32Array.from(probs, (p) => Math.log(p));
      const out = sampler.step(logits, state, uniforms);
      assert.equal(out.tokens[0], s.token, `${key} step ${i} sampler`);
      state = out.state;
    });
    assert.deepEqual(state.tokens[0], run.generated_tokens);
    assert.equal(uniforms.consumed, run.steps.length);
  }
});

test('top-k keeps ties, top-p keeps the smallest nucleus, greedy draws nothing', () => {
  const logits = Float32Array.from([1, 3, 3, 2, 0]);
  const k2 = tokenDistribution(logits, 0, 5, { topK: 2 });
  assert.ok(k2[1] > 0.49 && k2[2] > 0.49 && k2[0] === 0 && k2[3] === 0);
  const k3 = tokenDistribution(logits, 0, 5, { topK: 3 });
  assert.ok(k3[3] > 0 && k3[0] === 0);
  // softmax: [.064 .474 .474 .174 .024] → nucleus 0.9 keeps 3 tokens
  const p = tokenDistribution(logits, 0, 5, { topP: 0.9 });
  assert.deepEqual(Array.from(p, (x) => (x > 0 ? 1 : 0)), [0, 1, 1, 1, 0]);
  assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-6);
  assert.equal(selectToken(logits, 0, 5, { greedy: true }, 0.99), 1);
  const s = new AutoregressiveSampler({ temperature: 0, maxNewTokens: 2 });
  const u = new RecordedUniforms([]);
  let st = s.initialState(2);
  const two = Float32Array.from([...logits, 5, 0, 0, 0, 0]);
  st = s.step(two, st, u).state;
  const out = s.step(two, st, u);
  assert.deepEqual(out.state.tokens, [[1, 1], [0, 0]]);
  assert.ok(out.done);
});

test('batched rows stop independently on stop ids', () => {
  const s = new AutoregressiveSampler({ greedy: true, maxNewTokens: 5, stopIds: [4] });
  let st = s.initialState(2);
  const rowA = [0, 0, 0, 0, 9]; // → 4 (stop)
  const rowB = [9, 0, 0, 0, 0]; // → 0
  const r = new SeededRandom(1);
  const o1 = s.step(Float32Array.from([...rowA, ...rowB]), st, r);
  assert.deepEqual(Array.from(o1.tokens), [4, 0]);
  assert.equal(s.stopReason(o1.state, 0), 'stop-token');
  const o2 = s.step(Float32Array.from([...rowA, ...rowB]), o1.state, r);
  assert.deepEqual(Array.from(o2.tokens), [-1, 0]);
  assert.equal(o2.done, false);
});

test('invalid sampling options are typed errors', () => {
  assert.throws(() => new AutoregressiveSampler({ temperature: -1 }), InvalidSamplingOptionError);
  assert.throws(() => new AutoregressiveSampler({ topK: 0 }), InvalidSamplingOptionError);
  assert.throws(() => new AutoregressiveSampler({ topP: 1.5 }), InvalidSamplingOptionError);
  assert.throws(() => new AutoregressiveSampler({ maxNewTokens: 0 }), InvalidSamplingOptionError);
});

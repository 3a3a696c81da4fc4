import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { lastValueFrom, take, toArray } from 'rxjs';
import { BeamSearch, InvalidSamplingOptionError, openTextSession, understand, type TextGenerationEvent, type TextLogitsSession } from '@showo/sampler';
import { createAttentionMaskForMmu } from '@showo/omni-attention';
import { tinySetup, ticks } from './tiny.js';

const STOP = 2;
/** A toy language over tokens a (0), b (1) and stop (2) in which greedy decoding misses the likeliest answer. */
function toyProbs(prefix: readonly number[]): number[] {
  const key = prefix.join(',');
  if (key === '') return [0.6, 0.4, 1e-6];
  if (key === '0') return [0.35, 0.35, 0.3];
  if (key === '1') return [0.05, 0.05, 0.9];
  return [1e-3, 1e-3, 1 - 2e-3];
}

/** Runs a BeamSearch against the toy language, simulating a session that follows `sources` and appends `tokens`. */
function runToy(search: BeamSearch, prompts: number) {
  let rows: number[][] = Array.from({ length: search.rows(prompts) }, () => []);
  let state = search.initialState(prompts);
  const filler = 9;
  for (let guard = 0; guard < 20; guard++) {
    const logits = Float32Array.from(rows.flatMap((r) => toyProbs(r.filter((t) => t !== filler)).map(Math.log)));
    const out = search.step(logits, state, filler);
    state = out.state;
    if (out.done) return search.best(state);
    rows = out.sources.map((s, j) => [...rows[s]!, out.tokens[j]!]);
  }
  throw new Error('the search did not finish');
}

test('beam search finds the likeliest answer that greedy decoding misses', () => {
  // greedy: a a stop (0.6·0.35·~1 = 0.21); the likeliest answer is b stop (0.4·0.9 = 0.36)
  const two = runToy(new BeamSearch({ numBeams: 2, stopIds: [STOP], maxNewTokens: 3, lengthPenalty: 0 }), 2);
  assert.deepEqual(two.tokens, [[1, STOP], [1, STOP]]);
  assert.deepEqual(two.stopReasons, ['stop-token', 'stop-token']);
  assert.ok(Math.abs(two.logProbs[0]! - Math.log(0.36)) < 1e-5, `log p ${two.logProbs[0]}`);
  // one beam keeps only the likeliest first token: the greedy answer
  const one = runToy(new BeamSearch({ numBeams: 1, stopIds: [STOP], maxNewTokens: 3, lengthPenalty: 0 }), 1);
  assert.deepEqual(one.tokens, [[0, 0, STOP]]);
  // without a stop id every answer runs to maxNewTokens
  const capped = runToy(new BeamSearch({ numBeams: 2, maxNewTokens: 2, lengthPenalty: 0 }), 1);
  assert.deepEqual(capped.stopReasons, ['max-tokens']);
  assert.equal(capped.tokens[0]!.length, 2);
});

test('BeamSearch validates its options with typed errors', () => {
  assert.throws(() => new BeamSearch({ numBeams: 0 }), InvalidSamplingOptionError);
  assert.throws(() => new BeamSearch({ numBeams: 2.5 }), InvalidSamplingOptionError);
  assert.throws(() => new BeamSearch({ numBeams: 2, maxNewTokens: 0 }), InvalidSamplingOptionError);
  assert.throws(() => new BeamSearch({ numBeams: 2, lengthPenalty: Number.NaN }), InvalidSamplingOptionError);
  const s = new BeamSearch({ numBeams: 2 });
  assert.throws(() => s.step(new Float32Array(5), s.initialState(1), 0), /not a multiple/);
});

/** Every answer of at most two tokens scored exhaustively on the model: the best one by `score / length^lp`. */
async function exhaustiveBest(t: Awaited<ReturnType<typeof tinySetup>>, ids: number[], stop: number, lp: number) {
  const v = t.model.config.vocab_size;
  const rows = Array.from({ length: v }, () => ids);
  const flat = Int32Array.from(rows.flat());
  const allow = createAttentionMaskForMmu(rows, { eoiId: t.layout.special('<|eoi|>') });
  const session: TextLogitsSession = openTextSession(t.model, { ids: flat, rows: v, length: ids.length, allow }, 'none');
  try {
    const read = async (x: tf.Tensor2D) => {
      try {
        return (await x.array()) as number[][];
      } finally {
        x.dispose();
      }
    };
    const first = await read(session.start());
    const second = await read(session.append(Int32Array.from({ length: v }, (_, a) => a)));
    const logSoftmax = (r: number[]) => {
      const m = Math.max(...r);
      const z = Math.log(r.reduce((s, x) => s + Math.exp(x - m), 0)) + m;
      return r.map((x) => x - z);
    };
    const p0 = logSoftmax(first[0]!);
    let best = { tokens: [stop], rank: p0[stop]! };
    for (let a = 0; a < v; a++) {
      if (a === stop) continue;
      const p1 = logSoftmax(second[a]!);
      for (let b = 0; b < v; b++) {
        const rank = (p0[a]! + p1[b]!) / Math.pow(2, lp);
        if (rank > best.rank) best = { tokens: [a, b], rank };
      }
    }
    return best.tokens;
  } finally {
    session.dispose();
  }
}

for (const cache of ['auto', 'none'] as const) {
  test(`understand with beams (${cache}): as many beams as tokens is an exhaustive search; no tensor left`, async () => {
    const t = await tinySetup(4);
    const before = tf.memory().numTensors;
    const codes = Array.from({ length: 16 }, (_, i) => (i * 5) % 16);
    const v = t.model.config.vocab_size;
    const stop = 3;
    const ids = t.prompting.mmuGen({ imageIds: [t.layout.codesToIds(Int32Array.from(codes))], texts: [[7, 8, 9]] }).inputIds[0]!;
    for (const lp of [0, 1]) {
      const request = { images: [{ codes }], questions: [[7, 8, 9]], maxNewTokens: 2, stopIds: [stop], numBeams: v, lengthPenalty: lp };
      const events = await lastValueFrom(understand({ model: t.model, prompting: t.prompting, cache }, request).pipe(toArray()));
      const done = events.at(-1)!;
      assert.ok(done.type === 'done');
      assert.deepEqual(done.result.tokens[0], await exhaustiveBest(t, ids, stop, lp), `length penalty ${lp}`);
    }
    // one beam is greedy decoding, token for token
    const base = { images: [{ codes }, { codes: codes.map((c) => 15 - c) }], questions: [[7, 8, 9], [4, 5]], maxNewTokens: 6, stopIds: [stop] };
    const greedy = await lastValueFrom(understand({ model: t.model, prompting: t.prompting, cache }, { ...base, greedy: true }));
    const oneBeam = await lastValueFrom(understand({ model: t.model, prompting: t.prompting, cache }, { ...base, numBeams: 1, lengthPenalty: 0 }));
    assert.ok(greedy.type === 'done' && oneBeam.type === 'done');
    assert.deepEqual(oneBeam.result.tokens, greedy.result.tokens);
    assert.equal(tf.memory().numTensors, before);
    t.dispose();
  });

  test(`understand with beams (${cache}): each answer's reported log-probability is the model's, over many steps`, async () => {
    const t = await tinySetup(3);
    const before = tf.memory().numTensors;
    const images = [{ codes: Array.from({ length: 16 }, (_, i) => i) }, { codes: Array.from({ length: 16 }, (_, i) => (i * 7) % 16) }];
    const questions = [[7, 8, 9], [4, 5]];
    const r = await lastValueFrom(understand({ model: t.model, prompting: t.prompting, cache }, { images, questions, maxNewTokens: 6, stopIds: [], numBeams: 3 }));
    assert.ok(r.type === 'done' && r.result.logProbs);
    for (const row of [0, 1]) {
      // teacher-force the answer through a one-row session: a beam that lost track of its history scores otherwise
      const ids = t.prompting.mmuGen({ imageIds: [t.layout.codesToIds(Int32Array.from(images[row]!.codes))], texts: [questions[row]!] }).inputIds[0]!;
      const allow = createAttentionMaskForMmu([ids], { eoiId: t.layout.special('<|eoi|>') });
      const session = openTextSession(t.model, { ids: Int32Array.from(ids), rows: 1, length: ids.length, allow }, 'none');
      let logp = 0;
      try {
        let logits = session.start();
        for (const token of r.result.tokens[row]!) {
          const z = tf.tidy(() => tf.logSoftmax(logits).dataSync()[token]!);
          logits.dispose();
          logp += z;
          logits = session.append(Int32Array.of(token));
        }
        logits.dispose();
      } finally {
        session.dispose();
      }
      assert.ok(Math.abs(logp - r.result.logProbs[row]!) < 1e-3, `row ${row}: reported ${r.result.logProbs[row]}, model ${logp}`);
    }
    assert.equal(tf.memory().numTensors, before);
    t.dispose();
  });

  test(`understand with beams (${cache}): token events, cancel and error leave no tensors`, async () => {
    const t = await tinySetup(2);
    const before = tf.memory().numTensors;
    const request = { images: [{ codes: Array.from({ length: 16 }, (_, i) => i) }, { codes: Array.from({ length: 16 }, () => 3) }], questions: [[7, 8, 9], [4]], maxNewTokens: 5, stopIds: [], numBeams: 3 };
    const events = await lastValueFrom(understand({ model: t.model, prompting: t.prompting, cache }, request).pipe(toArray()));
    const tokens = events.filter((e): e is Extract<TextGenerationEvent, { type: 'token' }> => e.type === 'token');
    assert.equal(tokens.length, 10, 'one event per row and step');
    const done = events.at(-1)!;
    assert.ok(done.type === 'done');
    for (const row of [0, 1]) {
      const last = tokens.filter((e) => e.row === row).at(-1)!;
      assert.equal(last.stop, 'max-tokens');
      assert.deepEqual(last.tokens, done.result.tokens[row], 'the last event shows the answer');
    }
    assert.equal(tf.memory().numTensors, before);
    const calls0 = t.model.calls;
    await lastValueFrom(understand({ model: t.model, prompting: t.prompting, cache }, { ...request, maxNewTokens: 30 }).pipe(take(3), toArray()));
    await ticks(5);
    assert.ok(t.model.calls - calls0 <= 3, `stopped within one step (${t.model.calls - calls0} calls)`);
    assert.equal(tf.memory().numTensors, before);
    t.model.failAt = t.model.calls + 3;
    await assert.rejects(lastValueFrom(understand({ model: t.model, prompting: t.prompting, cache }, request)), /model failure/);
    await ticks();
    assert.equal(tf.memory().numTensors, before);
    t.dispose();
  });
}

test('beams refuse sampling options and models whose sessions cannot reorder rows', async () => {
  const t = await tinySetup();
  const before = tf.memory().numTensors;
  const request = { images: [{ codes: Array.from({ length: 16 }, (_, i) => i) }], questions: [[7, 8]], maxNewTokens: 3, numBeams: 2 };
  const deps = { model: t.model, prompting: t.prompting };
  assert.throws(() => understand(deps, { ...request, topK: 5 }), InvalidSamplingOptionError);
  assert.throws(() => understand(deps, { ...request, temperature: 0.7 }), InvalidSamplingOptionError);
  assert.throws(() => understand(deps, { ...request, numBeams: 0 }), InvalidSamplingOptionError);
  // temperature 0 is greedy, which beam search generalises
  await lastValueFrom(understand(deps, { ...request, temperature: 0 }));
  // a user's model with its own session and no reorder
  const own = {
    config: t.model.config,
    openTextSession: (input: Parameters<typeof openTextSession>[1]): TextLogitsSession => {
      const s = openTextSession(t.inner, input, 'none');
      return { cached: false, start: () => s.start(), append: (x: Int32Array) => s.append(x), dispose: () => s.dispose() };
    },
  };
  await assert.rejects(lastValueFrom(understand({ model: own as never, prompting: t.prompting }, request)), (e: unknown) => e instanceof InvalidSamplingOptionError && /reorder/.test(e.message));
  await ticks();
  assert.equal(tf.memory().numTensors, before);
  t.dispose();
});

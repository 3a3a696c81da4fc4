import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { lastValueFrom, toArray } from 'rxjs';
import { SeededRandom } from '@showo/runtime';
import { textMentionsHeldOut } from '@showo/shapes-world';
import {
  AdamW,
  CodeCache,
  IGNORE_INDEX,
  ShapesWorldShowoData,
  ShowoTask,
  buildHowtoBatch,
  train,
  type ShowoBatch,
  type StepEvent,
  type TrainEvent,
} from '@showo/trainer';
import { useWasm } from './helpers.js';
import { tinySetup } from './showo-helpers.js';

function decodeRows(batch: ShowoBatch, decode: (ids: number[]) => string, llm: number): string[] {
  const out: string[] = [];
  for (let b = 0; b < batch.batch; b++) {
    const row = Array.from(batch.inputIds.subarray(b * batch.length, (b + 1) * batch.length)).filter((id) => id < llm);
    out.push(decode(row));
  }
  return out;
}

test('the Shapes World stream builds every kind of batch, never shows held-out compositions, and resumes exactly', async () => {
  const s = tinySetup();
  const make = () =>
    new ShapesWorldShowoData({
      prompting: s.prompting,
      encoder: s.encoder,
      seed: 3,
      batch: { t2i: 3, lm: 2, mmu: 2 },
      t2iMix: { class: 1, caption: 1 },
      mmuMix: { caption: 1, qa: 1 },
      howto: { batch: 2, every: 3 },
    });
  const data = make();
  const batches: ShowoBatch[] = [];
  for (let i = 0; i < 30; i++) batches.push((await data.next()).value);
  const L = s.prompting.t2iSequenceLength;
  for (const [i, b] of batches.entries()) {
    if ((i + 1) % 3 === 0) {
      assert.equal(b.kind, 'howto');
      assert.equal(b.batchT2i, 2);
    } else {
      assert.deepEqual([b.kind, b.batch, b.length, b.batchT2i, b.batchLm, b.batchMmu], ['mixed', 7, L, 3, 2, 2]);
    }
    assert.equal(b.allow.data.length, b.batch * b.length * b.length);
    for (const text of decodeRows(b, (ids) => s.tokenizer.decode(ids), s.layout.llmVocabSize)) assert.ok(!textMentionsHeldOut(text), text);
    for (const lab of b.labels) assert.ok(lab === IGNORE_INDEX || (lab >= 0 && lab < s.layout.vocabSize));
  }
  // Class-label prompts appear in t2i rows (a single shape word between BOS and EOS).
  const words = new Set(batches.filter((b) => b.kind === 'mixed').flatMap((b) => decodeRows(b, (ids) => s.tokenizer.decode(ids, { skipSpecialTokens: true }), s.layout.llmVocabSize).slice(0, 3)));
  assert.ok([...words].some((w) => ['circle', 'square', 'triangle'].includes(w.trim())), [...words].join(' | '));

  const state = JSON.parse(JSON.stringify(data.getState()));
  const next = [(await data.next()).value, (await data.next()).value, (await data.next()).value];
  const other = make();
  other.setState(state);
  for (const b of next) {
    const c = (await other.next()).value;
    assert.deepEqual([...c.inputIds], [...b.inputIds]);
    assert.deepEqual([...c.labels], [...b.labels]);
    assert.deepEqual(c.allow.data, b.allow.data);
  }
  assert.ok(data.cache.misses > 0);
});

test('how-to batches label only the image blocks and mask each keyframe', () => {
  const s = tinySetup();
  const N = s.prompting.numVqTokens;
  const img = (c: number) => new Array(N).fill(s.layout.imageOffset + c);
  const b = buildHowtoBatch(
    s.prompting,
    [
      { question: 'how do i build a red circle?', steps: [{ text: 'step 1: place a red circle on the left.', imageIds: img(1) }] },
      {
        question: 'how do i build a blue square and a red circle?',
        steps: [
          { text: 'step 1: place a blue square on the left.', imageIds: img(3) },
          { text: 'step 2: add a red circle on the right.', imageIds: img(1) },
        ],
      },
    ],
    new SeededRandom(1),
  );
  assert.equal(b.kind, 'howto');
  const soi = s.layout.special('<|soi|>');
  for (let r = 0; r < 2; r++) {
    const ids = b.inputIds.subarray(r * b.length, (r + 1) * b.length);
    const labels = b.labels.subarray(r * b.length, (r + 1) * b.length);
    assert.equal(ids[s.prompting.maxTextLen], soi, 'first keyframe starts at MSL + 1');
    let inImage = false;
    for (let i = 0; i < b.length; i++) {
      if (ids[i] === soi) inImage = true;
      if (!inImage) assert.equal(labels[i], IGNORE_INDEX);
      if (labels[i] !== IGNORE_INDEX && ids[i] !== soi && ids[i] !== s.layout.special('<|eoi|>')) assert.equal(ids[i], s.layout.maskId);
      if (ids[i] === s.layout.special('<|eoi|>')) inImage = false;
    }
  }
});

test('Show-o trains on Shapes World through the generic loop (wasm), resumably, with a constant tensor count', async () => {
  await useWasm();
  const s = tinySetup();
  const cache = new CodeCache(s.encoder);
  const run = (model: ReturnType<typeof s.model>, extra: { dir?: string; resume?: boolean; signal?: AbortSignal; total?: number } = {}) => {
    const data = new ShapesWorldShowoData({ prompting: s.prompting, encoder: cache, seed: 5, batch: { t2i: 2, lm: 1, mmu: 1 }, mmuMix: { qa: 1 } });
    const optimizer = new AdamW();
    const events$ = train({
      model: new ShowoTask(model, { maxSeqLength: s.prompting.maxSeqLength }),
      data,
      optimizer,
      schedule: { kind: 'cosine', lr: 3e-3, warmupSteps: 1, totalSteps: 6 },
      totalSteps: extra.total ?? 6,
      clipGradNorm: 1,
      ...(extra.signal ? { signal: extra.signal } : {}),
      ...(extra.dir ? { checkpoint: { dir: extra.dir, everySteps: 2, resume: extra.resume ?? false } } : {}),
    });
    return { events$, optimizer };
  };
  const model = s.model(1);
  const counts: number[] = [];
  const { events$, optimizer } = run(model);
  const events: TrainEvent[] = [];
  await new Promise<void>((resolve, reject) =>
    events$.subscribe({
      next: (e) => {
        events.push(e);
        if (e.type === 'step') counts.push(tf.memory().numTensors);
      },
      error: reject,
      complete: resolve,
    }),
  );
  const full = events.filter((e): e is StepEvent => e.type === 'step');
  assert.equal(full.length, 6);
  assert.deepEqual(Object.keys(full[0].parts).sort(), ['lm', 'mmu', 't2i']);
  assert.ok(full.every((e) => Number.isFinite(e.loss) && !e.skipped));
  assert.equal(full[0].tokens, 4 * s.prompting.t2iSequenceLength);
  assert.ok(counts.every((c) => c === counts[0]), `tensor counts ${[...new Set(counts)].join(', ')}`);
  optimizer.dispose();
  model.dispose();

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'showo-trainer-'));
  const a = s.model(1);
  const ra = run(a, { dir, total: 3 });
  await lastValueFrom(ra.events$.pipe(toArray()));
  ra.optimizer.dispose();
  a.dispose();
  const b = s.model(9);
  const rb = run(b, { dir, resume: true });
  const rest = (await lastValueFrom(rb.events$.pipe(toArray()))).filter((e): e is StepEvent => e.type === 'step');
  assert.deepEqual(rest.map((e) => e.loss), full.slice(3).map((e) => e.loss));
  rb.optimizer.dispose();
  b.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('qaPerRow packs further question–answer pairs about the same image after the first, within the text budget', async () => {
  const s = tinySetup();
  const cache = new CodeCache(s.encoder);
  const rows = async (qaPerRow: number) => {
    const d = new ShapesWorldShowoData({ prompting: s.prompting, encoder: cache, seed: 3, batch: { mmu: 6 }, mmuMix: { qa: 1 }, qaPerRow });
    const b = (await d.next()).value as ShowoBatch;
    const eos = s.layout.eosId;
    const texts: number[][] = [];
    const start = s.prompting.numVqTokens + 3; // <|mmu|> <|soi|> image <|eoi|>
    for (let r = 0; r < b.batch; r++) {
      const t = Array.from(b.inputIds.subarray(r * b.length + start, (r + 1) * b.length)).filter((x) => x !== s.layout.padId);
      texts.push(t.slice(1, -1)); // without BOS and the final EOS
    }
    return { texts, eos };
  };
  const one = await rows(1);
  const three = await rows(3);
  let pairs = 0;
  three.texts.forEach((t, r) => {
    assert.ok(t.length + 2 <= s.prompting.maxSeqLength);
    const first = one.texts[r]!;
    assert.deepEqual(t.slice(0, first.length), first, 'the first pair is the one-pair row');
    const rest = t.slice(first.length);
    if (rest.length) assert.equal(rest[0], one.eos, 'pairs are separated by EOS');
    pairs += 1 + rest.filter((x) => x === one.eos).length;
  });
  assert.ok(pairs > three.texts.length, 'some rows carry more than one pair');
});

test('objectRegionProb: t2i rows mask only around their objects (so the background says where); how-to still builds', async () => {
  const s = tinySetup({ patch: 4 });
  const N = s.prompting.numVqTokens;
  const side = Math.round(Math.sqrt(N));
  const data = new ShapesWorldShowoData({
    prompting: s.prompting,
    encoder: s.encoder,
    seed: 4,
    batch: { t2i: 4, mmu: 1 },
    howto: { batch: 1, every: 3 },
    corruption: { masking: { objectRegionProb: 1 } },
  });
  const blank = (await s.encoder.encode([new Uint8Array(64 * 64 * 3).fill(255)], 64))[0]![0]! + s.layout.imageOffset;
  let checked = 0;
  for (let i = 0; i < 6; i++) {
    const b = (await data.next()).value;
    if (b.kind === 'howto') continue;
    for (let r = 0; r < b.batchT2i; r++) {
      const start = r * b.length + b.length - N - 1;
      const ids = b.inputIds.subarray(start, start + N);
      const labels = b.labels.subarray(start, start + N);
      const codes = Array.from(ids, (id, j) => (labels[j] !== IGNORE_INDEX ? labels[j]! : id));
      const masked = [...labels.keys()].filter((j) => labels[j] !== IGNORE_INDEX);
      assert.ok(masked.length > 0 && masked.length < N, `row ${r}: ${masked.length} masked`);
      assert.ok(masked.some((j) => codes[j] !== blank), 'an object is masked');
      // Every masked cell lies within three cells of an object code (a circle leaves its box corners blank; margin one).
      for (const j of masked) {
        const y = Math.floor(j / side), x = j % side;
        let near = false;
        for (let k = 0; k < N && !near; k++) near = codes[k] !== blank && Math.abs(Math.floor(k / side) - y) <= 3 && Math.abs((k % side) - x) <= 3;
        assert.ok(near, `masked cell ${j} is far from every object`);
      }
      checked++;
    }
  }
  assert.ok(checked >= 12);
});

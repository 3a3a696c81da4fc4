import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { lastValueFrom, toArray } from 'rxjs';
import {
  AdamW,
  CheckpointError,
  DataExhaustedError,
  findLatestCheckpoint,
  readCheckpoint,
  readJsonl,
  train,
  type StepEvent,
  type TrainEvent,
  type TrainOptions,
} from '@showo/trainer';
import { ToyData, ToyModel, useWasm, type ToyBatch } from './helpers.js';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'showo-trainer-'));
}

function options(model: ToyModel, data: ToyData, extra: Partial<TrainOptions<ToyBatch>> = {}): TrainOptions<ToyBatch> {
  return {
    model,
    data,
    optimizer: new AdamW({ weightDecay: 0.01 }),
    schedule: { kind: 'cosine', lr: 0.05, warmupSteps: 2, totalSteps: 8 },
    totalSteps: 8,
    gradAccumSteps: 2,
    clipGradNorm: 1,
    state: { dropout: model.dropoutRng },
    ...extra,
  };
}

async function collect(o: TrainOptions<ToyBatch>): Promise<TrainEvent[]> {
  return lastValueFrom(train(o).pipe(toArray()));
}

const steps = (events: TrainEvent[]) => events.filter((e): e is StepEvent => e.type === 'step');

test('the loop trains, reports typed events and keeps the tensor count constant across steps', async () => {
  await useWasm();
  const model = new ToyModel(1);
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  const o = options(model, new ToyData(2), { totalSteps: 30, schedule: { kind: 'constant', lr: 0.03 } });
  const events: TrainEvent[] = [];
  await new Promise<void>((resolve, reject) =>
    train(o).subscribe({
      next: (e) => {
        events.push(e);
        if (e.type === 'step') counts.push(tf.memory().numTensors);
      },
      error: reject,
      complete: resolve,
    }),
  );
  assert.equal(events[0].type, 'start');
  assert.equal(events.at(-1)!.type, 'done');
  const s = steps(events);
  assert.equal(s.length, 30);
  assert.deepEqual(s.map((e) => e.step), Array.from({ length: 30 }, (_, i) => i + 1));
  assert.ok(s[29].loss < s[0].loss * 0.6, `loss ${s[0].loss} → ${s[29].loss}`);
  assert.deepEqual(Object.keys(s[0].parts).sort(), ['l1', 'mse']);
  assert.equal(s[0].tokens, 16); // 2 micro-batches of 8
  assert.ok(s[0].tokensPerSecond > 0 && s[0].etaMs >= 0 && s[0].gradNorm > 0);
  assert.ok(counts.every((c) => c === counts[0]), `tensor counts ${[...new Set(counts)].join(', ')}`);
  // Only the caller's optimiser moments (2 per parameter) remain.
  assert.equal(tf.memory().numTensors, before + 6);
  o.optimizer!.dispose();
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

test('an interrupted and resumed run gives exactly the losses of an uninterrupted one', async () => {
  await useWasm();
  const full = new ToyModel(1);
  const fullSteps = steps(await collect(options(full, new ToyData(2))));
  full.dispose();

  const dir = tmpDir();
  const first = new ToyModel(1);
  const baseline = tf.memory().numTensors;
  const ctrl = new AbortController();
  const o1 = options(first, new ToyData(2), { checkpoint: { dir, everySteps: 3 }, signal: ctrl.signal });
  const events1: TrainEvent[] = [];
  await new Promise<void>((resolve, reject) =>
    train(o1).subscribe({
      next: (e) => {
        events1.push(e);
        if (e.type === 'step' && e.step === 5) ctrl.abort(); // interrupted between two checkpoints
      },
      error: reject,
      complete: resolve,
    }),
  );
  const done = events1.at(-1)!;
  assert.equal(done.type, 'done');
  assert.equal((done as { reason: string }).reason, 'aborted');
  assert.equal(steps(events1).length, 5);
  assert.ok(events1.some((e) => e.type === 'checkpoint' && e.step === 3));
  assert.ok(events1.some((e) => e.type === 'checkpoint' && e.step === 5), 'abort saves the last finished step');
  o1.optimizer!.dispose();
  assert.equal(tf.memory().numTensors, baseline, 'aborting frees every tensor of the run');
  first.dispose();

  // A new process: other initial weights, another data seed, a fresh optimiser — all replaced by the checkpoint.
  const second = new ToyModel(77);
  const o2 = options(second, new ToyData(99), { checkpoint: { dir, everySteps: 3, resume: true } });
  const events2 = await collect(o2);
  assert.equal(events2[0].type, 'start');
  assert.equal((events2[0] as { step: number }).step, 5);
  const resumed = steps(events2);
  assert.deepEqual(resumed.map((e) => e.step), [6, 7, 8]);
  assert.deepEqual(
    resumed.map((e) => [e.loss, e.lr, e.gradNorm]),
    fullSteps.slice(5).map((e) => [e.loss, e.lr, e.gradNorm]),
  );
  o2.optimizer!.dispose();
  second.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('data without getState is fast-forwarded on resume', async () => {
  await useWasm();
  function* plain(seed: number): Generator<ToyBatch> {
    const d = new ToyData(seed);
    for (;;) yield d.next().value;
  }
  const full = new ToyModel(1);
  const ref = steps(await collect(options(full, new ToyData(2), { data: plain(2) })));
  full.dispose();
  const dir = tmpDir();
  const a = new ToyModel(1);
  // Abort while step 5 is half done (after its first micro-batch): that step is dropped, step 4 is saved.
  const ctrl = new AbortController();
  function* aborting(): Generator<ToyBatch> {
    let n = 0;
    for (const b of plain(2)) {
      if (++n === 9) ctrl.abort();
      yield b;
    }
  }
  const oa = options(a, new ToyData(2), { data: aborting(), checkpoint: { dir }, signal: ctrl.signal });
  const ev = await collect(oa);
  assert.equal(steps(ev).length, 4);
  assert.ok(ev.some((e) => e.type === 'checkpoint' && e.step === 4));
  const b = new ToyModel(1);
  const ob = options(b, new ToyData(2), { data: plain(2), checkpoint: { dir, resume: true } });
  const rest = steps(await collect(ob));
  assert.deepEqual(rest.map((e) => e.loss), ref.slice(4).map((e) => e.loss));
  for (const o of [oa, ob]) o.optimizer!.dispose();
  a.dispose();
  b.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('corrupt, incomplete and mismatched checkpoints are refused with typed errors', async () => {
  await useWasm();
  const dir = tmpDir();
  const m = new ToyModel(1);
  const o = options(m, new ToyData(2), { totalSteps: 2, checkpoint: { dir, fingerprint: 'toy-v1' } });
  await collect(o);
  o.optimizer!.dispose();
  const ckpt = findLatestCheckpoint(dir)!;
  assert.match(path.basename(ckpt), /^step-0+2$/);
  // A half-written save (temporary folder) is never taken for a checkpoint.
  fs.mkdirSync(path.join(dir, '.tmp-step-00000009-1-1'));
  assert.equal(findLatestCheckpoint(dir), ckpt);

  const problem = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof CheckpointError, String(e));
      return e.problem;
    }
    assert.fail('expected a CheckpointError');
  };
  assert.equal(problem(() => readCheckpoint(ckpt, { fingerprint: 'toy-v2' })), 'MISMATCH');
  assert.equal(problem(() => readCheckpoint(path.join(dir, 'nope'))), 'MISSING');

  const resumeWith = async (model: ToyModel, extra: Partial<TrainOptions<ToyBatch>> = {}) => {
    const oo = options(model, new ToyData(2), { checkpoint: { dir, resume: true, fingerprint: 'toy-v1' }, ...extra });
    try {
      await collect(oo);
    } finally {
      oo.optimizer!.dispose();
    }
  };
  // Another model (a parameter of another shape).
  const other = new ToyModel(1);
  const w1 = other.w1;
  (other as { w1: tf.Variable }).w1 = tf.variable(tf.zeros([4, 9]));
  await assert.rejects(resumeWith(other), (e: unknown) => e instanceof CheckpointError && e.problem === 'MISMATCH' && /w1/.test(e.message));
  w1.dispose();
  other.dispose();
  // A run whose state components differ.
  await assert.rejects(resumeWith(m, { state: {} }), (e: unknown) => e instanceof CheckpointError && e.problem === 'MISMATCH' && /dropout/.test(e.message));

  // One flipped byte in the weights.
  const weights = path.join(ckpt, 'model.safetensors');
  const bytes = fs.readFileSync(weights);
  bytes[bytes.length - 3] ^= 0xff;
  fs.writeFileSync(weights, bytes);
  await assert.rejects(resumeWith(m), (e: unknown) => e instanceof CheckpointError && e.problem === 'CORRUPT' && /SHA-256/.test(e.message));
  // Truncated.
  fs.writeFileSync(weights, bytes.subarray(0, 20));
  assert.equal(problem(() => readCheckpoint(ckpt)), 'CORRUPT');
  // Manifest gone: not a checkpoint.
  fs.rmSync(path.join(ckpt, 'manifest.json'));
  assert.equal(problem(() => readCheckpoint(ckpt)), 'MISSING');
  m.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('unsubscribing stops within a step and frees every tensor; so does an error in the loss', async () => {
  await useWasm();
  const model = new ToyModel(1);
  const before = tf.memory().numTensors;
  let seen = 0;
  await new Promise<void>((resolve) => {
    const sub = train({ ...options(model, new ToyData(2)), optimizer: undefined, totalSteps: 1000 }).subscribe((e) => {
      if (e.type === 'step' && ++seen === 2) {
        sub.unsubscribe();
        setTimeout(resolve, 50);
      }
    });
  });
  assert.equal(seen, 2);
  assert.equal(tf.memory().numTensors, before, 'own optimiser and step tensors freed');

  let calls = 0;
  const failing = {
    trainableVariables: () => model.trainableVariables(),
    lossFn: (b: ToyBatch) => {
      if (++calls === 3) throw new Error('boom');
      return model.lossFn(b);
    },
  };
  await assert.rejects(lastValueFrom(train({ ...options(model, new ToyData(2)), model: failing, optimizer: undefined })), /boom/);
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

test('metrics go to a JSON Lines log (continued on resume) and a loss-curve PNG', async () => {
  await useWasm();
  const dir = tmpDir();
  const log = path.join(dir, 'metrics.jsonl');
  const png = path.join(dir, 'loss.png');
  const a = new ToyModel(1);
  const oa = options(a, new ToyData(2), { totalSteps: 4, metricsLog: log, lossCurve: png, checkpoint: { dir: path.join(dir, 'ckpt'), everySteps: 2 } });
  await collect(oa);
  // Pretend the process died after step 4 was logged but before the checkpoint of step 4: keep the step-2 one.
  fs.rmSync(path.join(dir, 'ckpt', 'step-00000004'), { recursive: true });
  fs.rmSync(path.join(dir, 'ckpt', 'latest.json'));
  const b = new ToyModel(1);
  const ob = options(b, new ToyData(2), { metricsLog: log, lossCurve: png, checkpoint: { dir: path.join(dir, 'ckpt'), everySteps: 2, resume: true } });
  await collect(ob);
  const records = readJsonl<TrainEvent>(log);
  const stepNums = records.filter((r): r is StepEvent => r.type === 'step').map((r) => r.step);
  assert.deepEqual(stepNums, [1, 2, 3, 4, 5, 6, 7, 8]);
  const img = PNG.sync.read(fs.readFileSync(png));
  assert.ok(img.width > 100 && img.height > 100);
  let coloured = 0;
  for (let i = 0; i < img.width * img.height; i++) if (img.data[4 * i] !== img.data[4 * i + 2]) coloured++;
  assert.ok(coloured > 50, 'lines were drawn');
  for (const o of [oa, ob]) o.optimizer!.dispose();
  a.dispose();
  b.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('periodic evaluation is emitted; finite data that runs out is a typed error', async () => {
  await useWasm();
  const model = new ToyModel(1);
  const d = new ToyData(2);
  const three = [d.next().value, d.next().value, d.next().value];
  const events = await collect({
    ...options(model, d),
    data: three,
    optimizer: undefined,
    gradAccumSteps: 1,
    totalSteps: 3,
    evaluate: { everySteps: 2, run: (step) => ({ step2: step * 2 }) },
  });
  const evals = events.filter((e) => e.type === 'eval');
  assert.deepEqual(evals, [{ type: 'eval', step: 2, metrics: { step2: 4 } }]);
  await assert.rejects(lastValueFrom(train({ ...options(model, d), data: three, optimizer: undefined, gradAccumSteps: 1, totalSteps: 5 })), DataExhaustedError);
  model.dispose();
});

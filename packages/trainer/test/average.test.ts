import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { lastValueFrom, toArray } from 'rxjs';
import { InvalidArgumentError } from '@showo/runtime';
import { AdamW, CheckpointError, findLatestCheckpoint, loadCheckpointWeights, readCheckpoint, train, WeightAverage, type TrainOptions } from '@showo/trainer';
import { ToyData, ToyModel, useWasm, type ToyBatch } from './helpers.js';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'showo-average-'));
}

function options(model: ToyModel, data: ToyData, extra: Partial<TrainOptions<ToyBatch>> = {}): TrainOptions<ToyBatch> {
  return {
    model,
    data,
    optimizer: new AdamW({ weightDecay: 0.01 }),
    schedule: { kind: 'cosine', lr: 0.05, warmupSteps: 2, totalSteps: 8 },
    totalSteps: 8,
    gradAccumSteps: 2,
    state: { dropout: model.dropoutRng },
    ...extra,
  };
}

const values = (m: ToyModel) => [m.w1, m.b1, m.w2].map((v) => Array.from(v.dataSync()));

test('the average follows avg ← d·avg + (1 − d)·w, with the warm-up ramp min(d, (1 + n)/(10 + n))', async () => {
  await useWasm();
  const w = tf.variable(tf.tensor1d([1, 2]), true, 'avg-test-w');
  const before = tf.memory().numTensors;
  const plain = new WeightAverage([w], { decay: 0.5, warmup: false });
  tf.tidy(() => w.assign(tf.tensor1d([3, 6])));
  plain.update(); // 0.5·[1,2] + 0.5·[3,6]
  tf.tidy(() => w.assign(tf.tensor1d([5, 10])));
  plain.update(); // 0.5·[2,4] + 0.5·[5,10]
  assert.equal(plain.updates, 2);
  const probe = tf.tidy(() => tf.variable(tf.zeros([2]), false, 'avg-test-probe'));
  plain.copyTo(new Map([['avg-test-w', probe]]));
  assert.deepEqual(Array.from(probe.dataSync()), [3.5, 7]);

  const ramped = new WeightAverage([w], { decay: 0.99 });
  assert.equal(ramped.nextDecay(), 0.1); // (1 + 0)/(10 + 0): the first update mostly takes the new weights
  tf.tidy(() => w.assign(tf.tensor1d([15, 20])));
  ramped.update(); // 0.1·[5,10] + 0.9·[15,20]
  ramped.copyTo(new Map([['avg-test-w', probe]]));
  const got = Array.from(probe.dataSync());
  assert.ok(Math.abs(got[0] - 14) < 1e-5 && Math.abs(got[1] - 19) < 1e-5, `${got}`);
  assert.equal(ramped.nextDecay(), 2 / 11);
  for (let i = 0; i < 2000; i++) ramped.update();
  assert.equal(ramped.nextDecay(), 0.99);

  plain.dispose();
  ramped.dispose();
  probe.dispose();
  assert.equal(tf.memory().numTensors, before);
  w.dispose();
});

test('withAveragedWeights swaps the average in and always restores the trained weights', async () => {
  await useWasm();
  const model = new ToyModel(3);
  const average = new WeightAverage(model.trainableVariables(), { decay: 0.9, warmup: false });
  const trainedStart = values(model);
  model.w1.assign(tf.add(model.w1, 1)); // training moved on; the average still holds the start
  const trained = values(model);
  const before = tf.memory().numTensors;
  const inside = await average.withAveragedWeights(() => values(model));
  assert.deepEqual(inside, trainedStart);
  assert.deepEqual(values(model), trained);
  await assert.rejects(
    average.withAveragedWeights(async () => {
      throw new Error('evaluation failed');
    }),
    /evaluation failed/,
  );
  assert.deepEqual(values(model), trained, 'the trained weights come back after an error too');
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => new WeightAverage(model.trainableVariables(), { decay: 1 }), InvalidArgumentError);
  average.dispose();
  assert.throws(() => average.update(), /disposed/);
  model.dispose();
});

test('train() keeps the average in its checkpoints: a resumed run ends with exactly the uninterrupted average', async () => {
  await useWasm();
  const full = new ToyModel(1);
  const fullAverage = new WeightAverage(full.trainableVariables(), { decay: 0.8 });
  const o = options(full, new ToyData(2), { average: fullAverage });
  await lastValueFrom(train(o).pipe(toArray()));
  o.optimizer!.dispose();
  assert.equal(fullAverage.updates, 8);
  const expected = await fullAverage.withAveragedWeights(() => values(full));
  assert.notDeepEqual(expected, values(full), 'the average differs from the last weights');

  const dir = tmpDir();
  const first = new ToyModel(1);
  const firstAverage = new WeightAverage(first.trainableVariables(), { decay: 0.8 });
  const baseline = tf.memory().numTensors;
  const ctrl = new AbortController();
  const o1 = options(first, new ToyData(2), { average: firstAverage, checkpoint: { dir, everySteps: 2 }, signal: ctrl.signal });
  await new Promise<void>((resolve, reject) =>
    train(o1).subscribe({ next: (e) => e.type === 'step' && e.step === 5 && ctrl.abort(), error: reject, complete: resolve }),
  );
  o1.optimizer!.dispose();
  assert.equal(tf.memory().numTensors, baseline, 'the run frees its tensors; the average stays with the caller');
  const saved = readCheckpoint(findLatestCheckpoint(dir)!);
  assert.equal(saved.state.average?.updates, 5);
  assert.equal(saved.averageTensors.size, 3);

  const second = new ToyModel(77);
  const secondAverage = new WeightAverage(second.trainableVariables(), { decay: 0.8 });
  const o2 = options(second, new ToyData(99), { average: secondAverage, checkpoint: { dir, everySteps: 2, resume: true } });
  await lastValueFrom(train(o2).pipe(toArray()));
  o2.optimizer!.dispose();
  assert.equal(secondAverage.updates, 8);
  assert.deepEqual(await secondAverage.withAveragedWeights(() => values(second)), expected);

  // The exported (averaged) weights of the final checkpoint are that average too.
  const exported = new ToyModel(5);
  loadCheckpointWeights(findLatestCheckpoint(dir)!, new Map(Object.entries(exported.trainableVariables())), { averaged: true });
  assert.deepEqual(values(exported), expected);
  for (const m of [full, first, second, exported]) m.dispose();
  for (const a of [fullAverage, firstAverage, secondAverage]) a.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('resuming a checkpoint saved without an average starts it at the restored weights; exporting it is refused', async () => {
  await useWasm();
  const dir = tmpDir();
  const plain = new ToyModel(1);
  const o1 = options(plain, new ToyData(2), { totalSteps: 3, checkpoint: { dir } });
  await lastValueFrom(train(o1).pipe(toArray()));
  o1.optimizer!.dispose();
  const atStep3 = values(plain);
  const ckpt = findLatestCheckpoint(dir)!;
  const target = new ToyModel(9);
  assert.throws(
    () => loadCheckpointWeights(ckpt, new Map(Object.entries(target.trainableVariables())), { averaged: true }),
    (e: unknown) => e instanceof CheckpointError && /no weight average/.test(e.message),
  );

  const resumed = new ToyModel(4);
  const average = new WeightAverage(resumed.trainableVariables(), { decay: 0.5, warmup: false });
  // Zero learning rate: the weights stay at step 3, so the restarted average must equal them after any updates.
  const o2 = options(resumed, new ToyData(2), { average, totalSteps: 5, schedule: { kind: 'constant', lr: 0 }, checkpoint: { dir, resume: true } });
  await lastValueFrom(train(o2).pipe(toArray()));
  o2.optimizer!.dispose();
  assert.equal(average.updates, 2);
  const avg = await average.withAveragedWeights(() => values(resumed));
  avg.flat().forEach((v, i) => assert.ok(Math.abs(v - atStep3.flat()[i]!) < 1e-6));
  for (const m of [plain, target, resumed]) m.dispose();
  average.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

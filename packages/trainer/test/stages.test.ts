import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Container } from 'inversify';
import { lastValueFrom, toArray } from 'rxjs';
import { PROMPTING_TYPES } from '@showo/prompting';
import { ShowoModel } from '@showo/showo-core';
import {
  CheckpointError,
  TRAINER_TYPES,
  TrainerConfigError,
  builtinStageConfig,
  findLatestCheckpoint,
  loadCheckpointWeights,
  parseStageConfig,
  trainerModule,
  type StageConfig,
  type StageRunner,
} from '@showo/trainer';
import { useWasm } from './helpers.js';
import { tinySetup } from './showo-helpers.js';

/** A shipped stage config shrunk to a smoke run (few rows, few steps). */
function tiny(stage: 1 | 2 | 3): StageConfig {
  const c = builtinStageConfig(stage);
  return {
    ...c,
    data: { ...c.data, batch: { t2i: 2, lm: 1, mmu: 1 }, ...(c.data.howto ? { howto: { batch: 1, every: 2 } } : {}) },
    totalSteps: 2,
    schedule: { ...c.schedule, warmupSteps: 1, totalSteps: 2 } as StageConfig['schedule'],
    checkpoint: { everySteps: 1, keepLast: 2 },
  };
}

test('the shipped stage configs are valid and chained 1 → 2 → 3; bad configs are refused with every problem', () => {
  const [s1, s2, s3] = ([1, 2, 3] as const).map(builtinStageConfig);
  assert.equal(s1.initFrom, null);
  assert.equal(s2.initFrom, s1.output);
  assert.equal(s3.initFrom, s2.output);
  assert.ok(s1.data.t2iMix?.class && !s1.data.t2iMix.caption, 'stage 1 generates from class labels');
  assert.ok(s3.data.howto && s3.data.mmuMix?.qa, 'stage 3 has how-to and questions');
  try {
    parseStageConfig({ ...s1, totalSteps: 0, data: { batch: { t2i: -1 }, generator: { allowHeldOut: true } } });
    assert.fail('accepted');
  } catch (e) {
    assert.ok(e instanceof TrainerConfigError);
    assert.match(e.message, /totalSteps/);
    assert.match(e.message, /data\.batch\.t2i/);
    assert.match(e.message, /allowHeldOut/);
  }
});

test('stages run through the DI stage runner: stage 2 starts from stage 1, refuses to start without it, exports a model', async () => {
  await useWasm();
  const s = tinySetup();
  const container = new Container();
  container.bind(PROMPTING_TYPES.UniversalPrompting).toConstantValue(s.prompting);
  await container.load(trainerModule({ encoder: s.encoder }));
  const runner = container.get<StageRunner>(TRAINER_TYPES.StageRunner);
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'showo-stages-'));

  const m2 = s.model(2);
  await assert.rejects(lastValueFrom(runner.run({ config: tiny(2), model: m2, runsDir })), (e: unknown) => e instanceof CheckpointError && e.problem === 'MISSING' && /stage1/.test(e.message));

  const m1 = s.model(1);
  const ev1 = await lastValueFrom(runner.run({ config: tiny(1), model: m1, runsDir }).pipe(toArray()));
  const exp = ev1.find((e) => e.type === 'export') as { path: string } | undefined;
  assert.ok(exp && fs.existsSync(path.join(exp.path, 'config.json')));
  assert.ok(fs.existsSync(path.join(runsDir, 'stage1', 'loss.png')));
  assert.ok(fs.existsSync(path.join(runsDir, 'stage1', 'metrics.jsonl')));
  const exported = await ShowoModel.load(exp.path);
  const w1 = m1.namedVariables();
  for (const [k, v] of exported.namedVariables()) assert.deepEqual(v.dataSync(), w1.get(k)!.dataSync(), k);
  exported.dispose();

  // Stage 2 begins with stage 1's weights.
  await lastValueFrom(runner.run({ config: tiny(2), model: m2, runsDir, totalSteps: 0 }).pipe(toArray()));
  for (const [k, v] of m2.namedVariables()) assert.deepEqual(v.dataSync(), w1.get(k)!.dataSync(), k);
  const ev2 = await lastValueFrom(runner.run({ config: tiny(2), model: m2, runsDir, totalSteps: 1 }).pipe(toArray()));
  assert.equal(ev2[0].type, 'start');
  assert.equal((ev2[0] as { step: number }).step, 0, 'fresh optimiser and step counter');
  const m3 = s.model(3);
  const ev3 = await lastValueFrom(runner.run({ config: tiny(3), model: m3, runsDir }).pipe(toArray()));
  assert.ok(ev3.some((e) => e.type === 'step' && 'howto' in e.parts), 'stage 3 trains on how-to batches');
  for (const m of [m1, m2, m3]) m.dispose();
  fs.rmSync(runsDir, { recursive: true, force: true });
});

test('a stage with a weight average exports the average, and the next stage starts from it', async () => {
  await useWasm();
  const s = tinySetup();
  const container = new Container();
  container.bind(PROMPTING_TYPES.UniversalPrompting).toConstantValue(s.prompting);
  await container.load(trainerModule({ encoder: s.encoder }));
  const runner = container.get<StageRunner>(TRAINER_TYPES.StageRunner);
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'showo-stages-avg-'));
  assert.throws(() => parseStageConfig({ ...builtinStageConfig(1), average: { decay: 1.5 } }), /average must be/);

  const m1 = s.model(1);
  const before = tf.memory().numTensors;
  const config = { ...tiny(1), totalSteps: 3, average: { decay: 0.5, warmup: false } };
  const ev = await lastValueFrom(runner.run({ config, model: m1, runsDir }).pipe(toArray()));
  assert.equal(tf.memory().numTensors, before, 'the stage frees its average and everything else');
  const exp = ev.find((e) => e.type === 'export') as { path: string };
  const exported = await ShowoModel.load(exp.path);
  const fromCheckpoint = s.model(7);
  loadCheckpointWeights(findLatestCheckpoint(path.join(runsDir, 'stage1', 'checkpoints'))!, fromCheckpoint.namedVariables(), { averaged: true });
  const last = m1.namedVariables();
  const averaged = fromCheckpoint.namedVariables();
  let differs = false;
  for (const [k, v] of exported.namedVariables()) {
    assert.deepEqual(v.dataSync(), averaged.get(k)!.dataSync(), k);
    differs ||= v.dataSync().some((x, i) => x !== last.get(k)!.dataSync()[i]);
  }
  assert.ok(differs, 'the exported model is the average, not the last weights');

  const m2 = s.model(2);
  await lastValueFrom(runner.run({ config: tiny(2), model: m2, runsDir, totalSteps: 0 }).pipe(toArray()));
  for (const [k, v] of m2.namedVariables()) assert.deepEqual(v.dataSync(), averaged.get(k)!.dataSync(), k);
  for (const m of [m1, m2, exported, fromCheckpoint]) m.dispose();
  fs.rmSync(runsDir, { recursive: true, force: true });
});

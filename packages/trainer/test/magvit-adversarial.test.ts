/**
 * Tokenizer training with MAGVIT-v2's adversarial term through the generic loop: the discriminator trains in the
 * same steps, its LeCAM anchors ride in the checkpoint's state, and a resumed run continues exactly.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { lastValueFrom, toArray } from 'rxjs';
import { InvalidArgumentError } from '@showo/runtime';
import { AdamW, ShapesWorldImageData, magvitTask, train, type StepEvent, type TrainOptions } from '@showo/trainer';
import { MagvitTokenizer, PatchDiscriminator, createMagvitConfig } from '@showo/tokenizer-magvit';
import type { ImageBatch } from '@showo/trainer';
import { useWasm } from './helpers.js';

const PALETTE: [number, number, number][] = [[255, 255, 255], [220, 40, 40], [40, 170, 60], [40, 80, 220], [240, 200, 40], [140, 60, 180], [245, 130, 30]];
const CONFIG = createMagvitConfig({ ch: 8, chMult: [1, 2], numResBlocks: [0, 1], decoderNumResBlocks: [0, 1], resolution: 64, codebookDim: 4, normGroups: 4, palette: PALETTE });

function setup() {
  const tok = MagvitTokenizer.create(CONFIG, { seed: 4 });
  const discriminator = new PatchDiscriminator({ inChannels: PALETTE.length, channels: [4, 8] }, 5);
  const task = magvitTask(tok, { edgeWeight: 5, adversarial: { discriminator, generatorWeight: 0.1, lecamWeight: 0.01, startAfter: 2 } }, { train: 'decoder' });
  const options = (extra: Partial<TrainOptions<ImageBatch>>): TrainOptions<ImageBatch> => ({
    model: task,
    data: new ShapesWorldImageData({ seed: 2, batch: 2 }),
    optimizer: new AdamW(),
    disposeOptimizer: true,
    schedule: { kind: 'constant', lr: 2e-3 },
    totalSteps: 5,
    clipGradNorm: 1,
    clipGroups: ['discriminator.'],
    state: { discriminator },
    ...extra,
  });
  const dispose = () => {
    task.dispose();
    tok.dispose();
    discriminator.dispose();
  };
  return { tok, discriminator, task, options, dispose };
}

const stepsOf = (events: unknown[]) => events.filter((e): e is StepEvent => (e as StepEvent).type === 'step');

test('the adversarial term trains the discriminator with the decoder, is reported, and resumes exactly', async () => {
  await useWasm();
  const full = setup();
  const names = Object.keys(full.task.trainableVariables());
  assert.ok(names.some((n) => n.startsWith('discriminator.')) && names.some((n) => n.startsWith('decoder.')));
  assert.ok(!names.some((n) => n.startsWith('encoder.')), 'decoder-only: the encoder stays frozen');
  const dStart = [...full.discriminator.namedVariables().values()].map((v) => v.dataSync().slice());
  const before = tf.memory().numTensors;
  const fullSteps = stepsOf(await lastValueFrom(train(full.options({})).pipe(toArray())));
  assert.equal(tf.memory().numTensors, before, 'the run frees every tensor it made');
  assert.deepEqual(Object.keys(fullSteps[0]!.parts).sort(), ['adv_d', 'adv_g', 'lecam', 'recon']);
  assert.ok(fullSteps.every((s) => Number.isFinite(s.loss)));
  const dEnd = [...full.discriminator.namedVariables().values()].map((v) => v.dataSync());
  assert.ok(dEnd.some((w, k) => w.some((x, i) => x !== dStart[k]![i])), 'the discriminator trained');
  assert.equal(full.discriminator.getState().evaluations, 5);
  // startAfter 2: the first two steps' totals are the reconstruction alone.
  for (const s of fullSteps.slice(0, 2)) assert.ok(Math.abs(s.loss - s.parts.recon!) < 1e-6);
  assert.ok(Math.abs(fullSteps[3]!.loss - fullSteps[3]!.parts.recon!) > 1e-6);
  full.dispose();

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'showo-adv-'));
  const first = setup();
  const ctrl = new AbortController();
  await new Promise<void>((resolve, reject) =>
    train(first.options({ checkpoint: { dir, everySteps: 1 }, signal: ctrl.signal })).subscribe({
      next: (e) => e.type === 'step' && e.step === 3 && ctrl.abort(),
      error: reject,
      complete: resolve,
    }),
  );
  first.dispose();
  const second = setup();
  const resumed = stepsOf(await lastValueFrom(train(second.options({ checkpoint: { dir, everySteps: 1, resume: true } })).pipe(toArray())));
  assert.deepEqual(resumed.map((s) => s.step), [4, 5]);
  resumed.forEach((s, i) => {
    const f = fullSteps[3 + i]!;
    assert.ok(Math.abs(s.loss - f.loss) < 1e-6 && Math.abs(s.parts.lecam! - f.parts.lecam!) < 1e-6, `step ${s.step}: ${s.loss} vs ${f.loss}`);
  });
  second.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a task with a discriminator trains on one engine: asking for two is a typed error', async () => {
  await useWasm();
  const s = setup();
  assert.equal('engineCall' in s.task, false);
  await assert.rejects(lastValueFrom(train(s.options({ workers: 2, gradAccumSteps: 2, totalSteps: 1 })).pipe(toArray())), InvalidArgumentError);
  s.dispose();
});

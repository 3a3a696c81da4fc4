// One micro-batch of an embedded training stage (forward + gradients of ShowoTask's loss), timed two ways: with the
// lm_head and softmax on the labelled rows only (what training does) and on every row (a model that ignores the
// row selection, as training did before). Prints a table: ms per micro-batch, rows with a label, speed-up.
//
//   node --import tsx scripts/embedded/bench-train-step.ts [--stage 19] [--codes models/shapes-world-next/patch-codebook.json]
//        [--batches 6] [--reps 2]
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import { ShowoModel, type AllowMaskLike } from '@showo/showo-core';
import { CodeCache, ShowoTask, labelledRows, loadStageConfig, showoLossPlan, stageData, type ShowoBatch } from '@showo/trainer';
import { ROOT, arg } from './common.js';
import { loadPatchCodebook, patchCodebookImages } from './patch-codes.js';
import { embeddedSetup, embeddedShowoConfig } from './showo-common.js';

async function main(): Promise<void> {
  await initBackend(arg('backend', 'wasm'));
  const stage = loadStageConfig(path.join(ROOT, 'scripts/embedded/stages', `stage${arg('stage', '19')}.json`));
  const images = patchCodebookImages(loadPatchCodebook(path.resolve(arg('codes', 'models/shapes-world-next/patch-codebook.json'))));
  const setup = embeddedSetup(images.encoder.codebookSize);
  const model = ShowoModel.random(embeddedShowoConfig(setup.layout, { hidden: 128, layers: 4, heads: 4 }), 1);
  const data = stageData(stage, setup.prompting, new CodeCache(images.encoder, 64, 10_000));
  const batches: ShowoBatch[] = [];
  const n = Number(arg('batches', '6'));
  for (let i = 0; i < n; i++) batches.push((await data.next()).value as ShowoBatch);
  const options = { maxSeqLength: setup.prompting.maxSeqLength, coefficients: stage.loss };
  const selecting = new ShowoTask(model, options);
  const everyRow = new ShowoTask({ forward: (ids: tf.Tensor, allow: AllowMaskLike) => model.forward(ids, allow), namedVariables: () => model.namedVariables() }, options);
  const vars = [...model.namedVariables().values()];
  const step = (task: ShowoTask, b: ShowoBatch): number => {
    const t0 = performance.now();
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => task.lossFn(b).total, vars);
      value.dataSync();
      for (const g of Object.values(grads)) g.dataSync();
    });
    return performance.now() - t0;
  };
  step(selecting, batches[0]!); // warm-up (kernel set-up, first allocations)
  step(everyRow, batches[0]!);
  const reps = Number(arg('reps', '2'));
  console.log('| batch | kind | rows B·L | labelled rows | every row, ms | labelled rows, ms | speed-up |');
  console.log('|---:|---|---:|---:|---:|---:|---:|');
  let sumA = 0;
  let sumB = 0;
  for (const [i, b] of batches.entries()) {
    // The rows ShowoTask asks the model for: the same plan as the losses.
    const plan = showoLossPlan(b.labels, b.batch, b.length, { batchT2i: b.batchT2i, batchLm: b.batchLm, batchMmu: b.batchMmu, maxSeqLength: options.maxSeqLength });
    const labelled = labelledRows(plan.targets, b.ntpTargets).length;
    let a = 0;
    let s = 0;
    for (let k = 0; k < reps; k++) {
      a += step(everyRow, b); // interleaved, so that a busy machine slows both alike
      s += step(selecting, b);
    }
    sumA += a / reps;
    sumB += s / reps;
    console.log(`| ${i} | ${b.kind} | ${b.batch * b.length} | ${labelled} | ${(a / reps).toFixed(0)} | ${(s / reps).toFixed(0)} | ${(a / s).toFixed(2)}× |`);
  }
  console.log(`| all | | | | ${sumA.toFixed(0)} | ${sumB.toFixed(0)} | ${(sumA / sumB).toFixed(2)}× |`);
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

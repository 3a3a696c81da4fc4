// Training computes the lm_head only on labelled rows: the losses and gradients must equal those of full logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { AllowMask } from '@showo/omni-attention';
import { IGNORE_INDEX, ShapesWorldShowoData, ShowoTask, crossEntropy, labelledRows, showoLossPlan, showoLosses, showoLossesOnRows, type ShowoBatch } from '@showo/trainer';
import { useWasm } from './helpers.js';
import { tinySetup } from './showo-helpers.js';

/** The loss as it was computed before row selection: every row's logits, then the official losses. */
function fullLogitsLoss(model: ReturnType<ReturnType<typeof tinySetup>['model']>, batch: ShowoBatch, msl: number): tf.Scalar {
  const ids = tf.tensor2d(batch.inputIds, [batch.batch, batch.length], 'int32');
  const logits = model.forward(ids, batch.allow);
  const l = showoLosses(logits, batch.labels, { batchT2i: batch.batchT2i, batchLm: batch.batchLm, batchMmu: batch.batchMmu, maxSeqLength: msl });
  return batch.ntpTargets ? (tf.add(l.total, crossEntropy(logits, batch.ntpTargets)) as tf.Scalar) : l.total;
}

test('labelledRows keeps the rows any target array labels, and never returns none', () => {
  const I = IGNORE_INDEX;
  assert.deepEqual(Array.from(labelledRows([I, 4, I, I], [I, I, I, 7])), [1, 3]);
  assert.deepEqual(Array.from(labelledRows([I, I], undefined)), [0]);
});

test('showoLossesOnRows over the labelled rows equals showoLosses, and neither leaves a tensor behind', async () => {
  await useWasm();
  const logits = tf.randomNormal([2, 6, 5], 0, 1, 'float32', 1) as tf.Tensor3D;
  const I = IGNORE_INDEX;
  const labels = [I, I, 1, 2, 3, I, I, 1, 2, I, I, 4]; // a t2i row (unshifted from MSL + 1) and an mmu row (shifted)
  const options = { batchT2i: 1, batchLm: 0, batchMmu: 1, maxSeqLength: 1 };
  const start = tf.memory().numTensors;
  const full = showoLosses(logits, labels, options);
  const plan = showoLossPlan(labels, 2, 6, options);
  const rows = labelledRows(plan.targets);
  assert.deepEqual(Array.from(rows), [2, 3, 4, 6, 7, 10]);
  const picked = tf.tidy(() => tf.gather(logits.reshape([12, 5]), rows));
  const onRows = showoLossesOnRows(picked, rows, plan);
  for (const part of ['t2i', 'mmu', 'total'] as const) assert.ok(Math.abs(full[part].dataSync()[0]! - onRows[part].dataSync()[0]!) < 1e-6, part);
  assert.deepEqual(onRows.counts, { t2i: 3, lm: 0, mmu: 3 });
  tf.dispose([picked, full.t2i, full.lm, full.mmu, full.total, onRows.t2i, onRows.lm, onRows.mmu, onRows.total]);
  assert.equal(tf.memory().numTensors, start);
  logits.dispose();
});

test('Show-o losses and gradients from labelled rows only equal those from every row (mixed and how-to batches)', async () => {
  await useWasm();
  const s = tinySetup();
  const msl = s.prompting.maxSeqLength;
  const data = new ShapesWorldShowoData({ prompting: s.prompting, encoder: s.encoder, seed: 8, batch: { t2i: 2, lm: 1, mmu: 2 }, mmuMix: { qa: 1 }, howto: { batch: 1, every: 2, text: true } });
  const batches = [(await data.next()).value as ShowoBatch, (await data.next()).value as ShowoBatch];
  assert.deepEqual(
    batches.map((b) => [b.kind, b.ntpTargets !== undefined]),
    [
      ['mixed', false],
      ['howto', true],
    ],
  );
  const model = s.model(4);
  const task = new ShowoTask(model, { maxSeqLength: msl });
  const vars = [...model.namedVariables().values()];
  const start = tf.memory().numTensors;
  for (const batch of batches) {
    const selected = tf.variableGrads(() => task.lossFn(batch).total, vars);
    const full = tf.variableGrads(() => fullLogitsLoss(model, batch, msl), vars);
    const [a, b] = [selected.value.dataSync()[0]!, full.value.dataSync()[0]!];
    assert.ok(Math.abs(a - b) < 1e-5 * Math.max(1, Math.abs(b)), `${batch.kind}: loss ${a} vs ${b}`);
    for (const [name, g] of Object.entries(selected.grads)) {
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(g, full.grads[name]!))).dataSync()[0]!);
      assert.ok(diff < 1e-5, `${batch.kind}: gradient of ${name} differs by ${diff}`);
    }
    tf.dispose([selected.value, full.value, ...Object.values(selected.grads), ...Object.values(full.grads)]);
  }
  assert.equal(tf.memory().numTensors, start);
  // A model that ignores the row selection (returns every row) is scored on every row, to the same loss.
  const ignoring = { forward: (ids: tf.Tensor, allow: AllowMask) => model.forward(ids, allow), namedVariables: () => model.namedVariables() };
  const [viaIgnoring, viaRows] = tf.tidy(() => [new ShowoTask(ignoring, { maxSeqLength: msl }).lossFn(batches[0]!).total.dataSync()[0]!, task.lossFn(batches[0]!).total.dataSync()[0]!]);
  assert.ok(Math.abs(viaIgnoring! - viaRows!) < 1e-5);
  assert.equal(tf.memory().numTensors, start);
  model.dispose();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { lastValueFrom, toArray } from 'rxjs';
import { SeededRandom } from '@showo/runtime';
import { AdamW, IGNORE_INDEX, ShapesWorldShowoData, ShowoTask, buildInterleavedHowtoBatch, train, type ShowoBatch, type StepEvent } from '@showo/trainer';
import { useWasm } from './helpers.js';
import { tinySetup } from './showo-helpers.js';

const ROWS = (img: (c: number) => number[]) => [
  { question: 'how do i build a red circle?', steps: [{ text: 'step 1: place a red circle on the left.', imageIds: img(1) }] },
  {
    question: 'how do i build a blue square and a red circle?',
    steps: [
      { text: 'step 1: place a blue square on the left.', imageIds: img(3) },
      { text: 'step 2: add a red circle on the right.', imageIds: img(1) },
    ],
  },
];

test('interleaved how-to batches: MTP labels on keyframes, NTP targets on step texts and the end marker', () => {
  const s = tinySetup({ msl: 32 }); // question + step 1 + 3 must fit max_text_len, or step 1 is cut
  const N = s.prompting.numVqTokens;
  const L = s.layout;
  const img = (c: number) => new Array<number>(N).fill(L.imageOffset + c);
  const b = buildInterleavedHowtoBatch(s.prompting, ROWS(img), new SeededRandom(1));
  assert.equal(b.kind, 'howto');
  const soi = L.special('<|soi|>');
  const eoi = L.special('<|eoi|>');
  const mtl = s.prompting.maxTextLen;
  const texts: string[][] = [];
  for (let r = 0; r < 2; r++) {
    const ids = Array.from(b.inputIds.subarray(r * b.length, (r + 1) * b.length));
    const labels = b.labels.subarray(r * b.length, (r + 1) * b.length);
    const ntp = b.ntpTargets!.subarray(r * b.length, (r + 1) * b.length);
    assert.equal(ids[mtl], soi, 'first keyframe starts at MSL + 1');
    // The sequence ends with the end marker `<|eoi|> BOS EOS`, then padding.
    const lastEoi = ids.lastIndexOf(eoi);
    assert.deepEqual(ids.slice(lastEoi + 1, lastEoi + 3), [L.bosId, L.eosId]);
    assert.ok(ids.slice(lastEoi + 3).every((id) => id === L.padId));
    // MTP: labels only inside image blocks; NTP: never inside image blocks.
    let inImage = false;
    for (let i = 0; i < b.length; i++) {
      if (ids[i] === soi) inImage = true;
      if (!inImage) assert.equal(labels[i], IGNORE_INDEX);
      if (i + 1 < b.length && ntp[i] !== IGNORE_INDEX) assert.equal(ntp[i], ids[i + 1], 'NTP targets are the next ids');
      if (ids[i] === eoi) inImage = false;
    }
    // The NTP targets, split at each EOS, are exactly the step texts (and an empty end marker).
    const parts: string[] = [];
    let cur: number[] = [];
    for (let i = 0; i < b.length; i++) {
      if (ntp[i] === IGNORE_INDEX) continue;
      if (ntp[i] === L.eosId) {
        parts.push(s.tokenizer.decode(cur));
        cur = [];
      } else cur.push(ntp[i]!);
    }
    texts.push(parts);
  }
  assert.deepEqual(texts, [
    ['step 1: place a red circle on the left.', ''],
    ['step 1: place a blue square on the left.', 'step 2: add a red circle on the right.', ''],
  ]);
});

test('interleaved how-to batches train both losses (the step-text loss falls) and the stream can produce them', async () => {
  await useWasm();
  const s = tinySetup({ msl: 32 }); // question + step 1 + 3 must fit max_text_len, or step 1 is cut
  const N = s.prompting.numVqTokens;
  const img = (c: number) => new Array<number>(N).fill(s.layout.imageOffset + c);
  const batch = buildInterleavedHowtoBatch(s.prompting, ROWS(img), new SeededRandom(2));
  const model = s.model(3);
  const before = tf.memory().numTensors;
  const optimizer = new AdamW();
  const events = await lastValueFrom(
    train({
      model: new ShowoTask(model, { maxSeqLength: s.prompting.maxSeqLength }),
      data: (function* () {
        for (;;) yield batch;
      })(),
      optimizer,
      schedule: { kind: 'constant', lr: 1e-2 },
      totalSteps: 8,
    }).pipe(toArray()),
  );
  const steps = events.filter((e): e is StepEvent => e.type === 'step');
  assert.deepEqual(Object.keys(steps[0]!.parts).sort(), ['howto', 'howto_text']);
  assert.ok(steps.at(-1)!.parts.howto_text! < steps[0]!.parts.howto_text! * 0.8, `howto_text ${steps[0]!.parts.howto_text} → ${steps.at(-1)!.parts.howto_text}`);
  optimizer.dispose();
  assert.equal(tf.memory().numTensors, before);
  model.dispose();

  const data = new ShapesWorldShowoData({ prompting: s.prompting, encoder: s.encoder, seed: 1, batch: {}, howto: { batch: 2, every: 1, text: true } });
  const b: ShowoBatch = (await data.next()).value;
  assert.equal(b.kind, 'howto');
  assert.ok(b.ntpTargets && b.ntpTargets.some((t) => t !== IGNORE_INDEX));
});

/**
 * Training on two engines (`workers: 2`): the micro-batches of a step run one on this thread and one in a
 * DualEngine worker, and the run must equal the one-engine run with the same gradient accumulation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { AdamW, CodeCache, ShapesWorldImageData, ShapesWorldShowoData, ShowoTask, magvitTask, train, type StepEvent, type TrainEvent } from '@showo/trainer';
import { MagvitTokenizer, createMagvitConfig } from '@showo/tokenizer-magvit';
import { InvalidArgumentError } from '@showo/runtime';
import { useWasm, ToyData, ToyModel } from './helpers.js';
import { tinySetup } from './showo-helpers.js';

async function collect(events$: import('rxjs').Observable<TrainEvent>): Promise<TrainEvent[]> {
  const out: TrainEvent[] = [];
  await new Promise<void>((resolve, reject) => events$.subscribe({ next: (e) => out.push(e), error: reject, complete: resolve }));
  return out;
}

test('workers: 2 trains Show-o exactly like gradient accumulation on one engine, and leaks nothing', async () => {
  await useWasm();
  const s = tinySetup();
  const cache = new CodeCache(s.encoder);
  const runWith = async (workers: 1 | 2) => {
    const model = s.model(3);
    const data = new ShapesWorldShowoData({ prompting: s.prompting, encoder: cache, seed: 9, batch: { t2i: 2, lm: 1, mmu: 1 }, mmuMix: { qa: 1 } });
    const optimizer = new AdamW();
    const before = tf.memory().numTensors;
    const events = await collect(
      train({
        model: new ShowoTask(model, { maxSeqLength: s.prompting.maxSeqLength }),
        data,
        optimizer,
        schedule: { kind: 'cosine', lr: 3e-3, warmupSteps: 1, totalSteps: 3 },
        totalSteps: 3,
        gradAccumSteps: 2,
        clipGradNorm: 1,
        workers,
      }),
    );
    const after = tf.memory().numTensors;
    const weights = new Map([...model.namedVariables()].map(([n, v]) => [n, v.dataSync().slice()]));
    optimizer.dispose();
    model.dispose();
    return { events, weights, leaked: after - before };
  };
  const one = await runWith(1);
  const two = await runWith(2);
  // A caller's optimiser keeps its moments (counted in `leaked` of both runs); nothing else may stay.
  assert.equal(two.leaked, one.leaked, 'tensors left behind by the two-engine run');
  const steps = (r: typeof one) => r.events.filter((e): e is StepEvent => e.type === 'step');
  assert.equal(steps(two).length, 3);
  for (let i = 0; i < 3; i++) {
    const a = steps(one)[i]!;
    const b = steps(two)[i]!;
    assert.ok(Math.abs(a.loss - b.loss) < 1e-4 * Math.max(1, Math.abs(a.loss)), `step ${i + 1} loss ${a.loss} vs ${b.loss}`);
    assert.deepEqual(Object.keys(b.parts).sort(), Object.keys(a.parts).sort());
    for (const k of Object.keys(a.parts)) assert.ok(Math.abs(a.parts[k]! - b.parts[k]!) < 1e-4, `part ${k}`);
    assert.equal(a.tokens, b.tokens);
  }
  let worst = 0;
  for (const [name, w] of one.weights) {
    const v = two.weights.get(name)!;
    for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(w[i]! - v[i]!));
  }
  assert.ok(worst < 1e-4, `weights differ by ${worst} after 3 steps`);
});

test('workers: 2 with a model that cannot run in a worker is a typed error', async () => {
  await useWasm();
  const model = new ToyModel(1);
  await assert.rejects(
    collect(train({ model, data: new ToyData(1), schedule: { kind: 'constant', lr: 1e-2 }, totalSteps: 1, workers: 2 })),
    (e: unknown) => e instanceof InvalidArgumentError && /EngineTrainable/.test((e as Error).message),
  );
  model.dispose?.();
});

test('workers: 2 trains the MAGVIT tokenizer like gradient accumulation on one engine', async () => {
  await useWasm();
  const config = createMagvitConfig({ ch: 8, chMult: [1, 2], numResBlocks: [0, 1], decoderNumResBlocks: [0, 1], resolution: 64, codebookDim: 4, normGroups: 4 });
  const runWith = async (workers: 1 | 2) => {
    const tok = MagvitTokenizer.create(config, { seed: 4 });
    const events = await collect(
      train({
        model: magvitTask(tok, { edgeWeight: 5 }),
        data: new ShapesWorldImageData({ seed: 2, batch: 2 }),
        schedule: { kind: 'constant', lr: 1e-3 },
        totalSteps: 2,
        gradAccumSteps: 2,
        workers,
      }),
    );
    const w = [...tok.namedVariables().values()].map((v) => v.dataSync().slice());
    tok.dispose();
    return { steps: events.filter((e): e is StepEvent => e.type === 'step'), w };
  };
  const one = await runWith(1);
  const two = await runWith(2);
  one.steps.forEach((a, i) => {
    assert.ok(Math.abs(a.loss - two.steps[i]!.loss) < 1e-4, `loss ${a.loss} vs ${two.steps[i]!.loss}`);
    assert.ok(Math.abs(a.parts.recon! - two.steps[i]!.parts.recon!) < 1e-4);
  });
  let worst = 0;
  one.w.forEach((a, k) => a.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - two.w[k]![i]!)))));
  assert.ok(worst < 1e-4, `weights differ by ${worst}`);
});

test('the local-code head trains with the tokenizer, on one engine or two alike, and is freed with the task', async () => {
  await useWasm();
  const palette: [number, number, number][] = [[255, 255, 255], [220, 40, 40], [40, 170, 60], [40, 80, 220], [240, 200, 40], [140, 60, 180], [245, 130, 30]];
  const config = createMagvitConfig({ ch: 8, chMult: [1, 2], numResBlocks: [0, 1], decoderNumResBlocks: [0, 1], resolution: 64, codebookDim: 4, normGroups: 4, palette });
  const runWith = async (workers: 1 | 2) => {
    const tok = MagvitTokenizer.create(config, { seed: 4 });
    const before = tf.memory().numTensors;
    const task = magvitTask(tok, { edgeWeight: 5 }, { localCode: { weight: 0.5, hidden: 8, seed: 3 } });
    const names = Object.keys(task.trainableVariables());
    const headOf = (): Float32Array => (Object.fromEntries(Object.entries(task.trainableVariables())) as Record<string, tf.Variable>)['aux.local_code.w2']!.dataSync().slice() as Float32Array;
    const headStart = headOf();
    const events = await collect(
      train({ model: task, data: new ShapesWorldImageData({ seed: 2, batch: 2 }), schedule: { kind: 'constant', lr: 1e-3 }, totalSteps: 2, gradAccumSteps: 2, workers }),
    );
    const headEnd = headOf();
    task.dispose();
    const leaked = tf.memory().numTensors - before;
    tok.dispose();
    return { steps: events.filter((e): e is StepEvent => e.type === 'step'), names, moved: headEnd.some((x, i) => x !== headStart[i]), leaked };
  };
  const one = await runWith(1);
  const two = await runWith(2);
  assert.ok(one.names.includes('aux.local_code.w1') && one.names.includes('encoder.conv_in.weight'));
  assert.ok(one.moved, 'the head did not train');
  assert.equal(one.leaked, 0);
  assert.equal(two.leaked, 0);
  one.steps.forEach((a, i) => {
    const b = two.steps[i]!;
    assert.ok(a.parts.local! > 0 && Math.abs(a.parts.local! - b.parts.local!) < 1e-4, `local ${a.parts.local} vs ${b.parts.local}`);
    assert.ok(Math.abs(a.loss - b.loss) < 1e-4, `loss ${a.loss} vs ${b.loss}`);
  });
});

test("train: 'decoder' leaves the encoder and every code untouched and trains the decoder", async () => {
  await useWasm();
  const config = createMagvitConfig({ ch: 8, chMult: [1, 2], numResBlocks: [0, 1], decoderNumResBlocks: [0, 1], resolution: 64, codebookDim: 4, normGroups: 4 });
  const tok = MagvitTokenizer.create(config, { seed: 6 });
  const task = magvitTask(tok, {}, { train: 'decoder' });
  const names = Object.keys(task.trainableVariables());
  assert.ok(names.length > 0 && names.every((n) => n.startsWith('decoder.')), names.join(', '));
  const snapshot = () => new Map([...tok.namedVariables()].map(([n, v]) => [n, v.dataSync().slice()]));
  const images = tf.tidy(() => tf.randomUniform([2, 64, 64, 3], -1, 1, 'float32', 4) as tf.Tensor4D);
  const codesBefore = tf.tidy(() => tok.encodeToCodes(images).dataSync().slice());
  const before = snapshot();
  await collect(train({ model: task, data: new ShapesWorldImageData({ seed: 2, batch: 2 }), schedule: { kind: 'constant', lr: 1e-2 }, totalSteps: 2 }));
  const after = snapshot();
  for (const [n, w] of before) {
    if (!n.startsWith('decoder.')) assert.ok(w.every((x, i) => x === after.get(n)![i]), `${n} changed`);
  }
  assert.ok([...before].some(([n, w]) => n.startsWith('decoder.') && w.some((x, i) => x !== after.get(n)![i])), 'the decoder did not train');
  assert.deepEqual(Array.from(tf.tidy(() => tok.encodeToCodes(images).dataSync())), Array.from(codesBefore));
  assert.throws(() => magvitTask(tok, {}, { train: 'decoder', localCode: { weight: 1 } }), /decoder-only/);
  images.dispose();
  task.dispose();
  tok.dispose();
});

test("train: 'decoder' reads a batch's own codes when it has them; only decoder-only tasks accept them", async () => {
  await useWasm();
  const config = createMagvitConfig({ ch: 8, chMult: [1, 2], numResBlocks: [0, 1], decoderNumResBlocks: [0, 1], resolution: 64, codebookDim: 4, normGroups: 4 });
  const tok = MagvitTokenizer.create(config, { seed: 6 });
  const task = magvitTask(tok, {}, { train: 'decoder' });
  const batch = new ShapesWorldImageData({ seed: 3, batch: 2 }).next().value;
  const start = tf.memory().numTensors;
  const lossOf = (b: typeof batch) => tf.tidy(() => task.lossFn(b).total.dataSync()[0]);
  const images = tf.tensor4d(batch.pixels, [2, 64, 64, 3]);
  const own = tf.tidy(() => tok.encodeToCodes(images).dataSync() as Int32Array);
  images.dispose();
  assert.ok(Math.abs(lossOf(batch) - lossOf({ ...batch, codes: own })) < 1e-6, 'own codes given = own codes computed');
  const noisy = own.map((c, i) => (i % 3 === 0 ? (c + 5) % 16 : c));
  assert.notEqual(lossOf({ ...batch, codes: noisy }), lossOf(batch));
  assert.throws(() => lossOf({ ...batch, codes: own.slice(0, 100) }), /codes/);
  const full = magvitTask(tok);
  assert.throws(() => tf.tidy(() => full.lossFn({ ...batch, codes: own }).total), /decoder/);
  assert.equal(tf.memory().numTensors, start);
  task.dispose();
  full.dispose();
  tok.dispose();
});

test("train: 'decoder' on two engines equals one engine, with computed or the batch's own codes", async () => {
  await useWasm();
  const config = createMagvitConfig({ ch: 8, chMult: [1, 2], numResBlocks: [0, 1], decoderNumResBlocks: [0, 1], resolution: 64, codebookDim: 4, normGroups: 4 });
  /** Every other batch brings codes of its own (its true codes with a few changed), as code-noise data does. */
  const data = (tok: MagvitTokenizer) => {
    const base = new ShapesWorldImageData({ seed: 5, batch: 2 });
    let n = 0;
    return {
      next: () => {
        const b = base.next().value;
        if (n++ % 2 === 0) return { value: b, done: false as const };
        const codes = tf.tidy(() => tok.encodeToCodes(tf.tensor4d(b.pixels, [b.batch, b.size, b.size, 3])).dataSync() as Int32Array);
        return { value: { ...b, codes: codes.map((c, i) => (i % 5 === 0 ? (c + 3) % 16 : c)) }, done: false as const };
      },
      [Symbol.iterator]() {
        return this;
      },
    };
  };
  const runWith = async (workers: 1 | 2) => {
    const tok = MagvitTokenizer.create(config, { seed: 8 });
    const task = magvitTask(tok, { edgeWeight: 5 }, { train: 'decoder' });
    assert.ok(task.engineModule, 'a decoder-only task can run in a worker');
    const encoderBefore = tok.namedVariables().get('encoder.conv_in.weight')!.dataSync().slice();
    const before = tf.memory().numTensors;
    const events = await collect(
      train({ model: task, data: data(tok), schedule: { kind: 'constant', lr: 1e-3 }, totalSteps: 2, gradAccumSteps: 2, workers }),
    );
    const leaked = tf.memory().numTensors - before;
    const w = new Map([...tok.namedVariables()].map(([n, v]) => [n, v.dataSync().slice()]));
    assert.deepEqual(Array.from(w.get('encoder.conv_in.weight')!), Array.from(encoderBefore), 'the encoder changed');
    task.dispose();
    tok.dispose();
    return { steps: events.filter((e): e is StepEvent => e.type === 'step'), w, leaked };
  };
  const one = await runWith(1);
  const two = await runWith(2);
  assert.equal(one.leaked, 0);
  assert.equal(two.leaked, 0);
  one.steps.forEach((a, i) => {
    const b = two.steps[i]!;
    assert.ok(Math.abs(a.loss - b.loss) < 1e-4, `loss ${a.loss} vs ${b.loss}`);
    assert.ok(Math.abs(a.parts.recon! - b.parts.recon!) < 1e-4);
  });
  let worst = 0;
  let moved = false;
  const start = MagvitTokenizer.create(config, { seed: 8 });
  for (const [n, a] of one.w) {
    const b = two.w.get(n)!;
    a.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - b[i]!))));
    if (n.startsWith('decoder.') && start.namedVariables().get(n)!.dataSync().some((x, i) => x !== a[i])) moved = true;
  }
  start.dispose();
  assert.ok(moved, 'the decoder did not train');
  assert.ok(worst < 1e-4, `weights differ by ${worst}`);
});

test("train: 'encoder' fits the encoder alone to each batch's target codes, on one engine or two alike", async () => {
  await useWasm();
  const config = createMagvitConfig({ ch: 8, chMult: [1, 2], numResBlocks: [0, 1], decoderNumResBlocks: [0, 1], resolution: 64, codebookDim: 4, normGroups: 4 });
  /** Targets: a fixed function of each 2×2 patch's colour (white or not), which an encoder can learn. */
  const data = () => {
    const base = new ShapesWorldImageData({ seed: 7, batch: 2 });
    return {
      next: () => {
        const b = base.next().value;
        const codes = new Int32Array(b.batch * 1024);
        for (let k = 0; k < b.batch; k++) {
          for (let p = 0; p < 1024; p++) {
            const white = b.pixels[(k * 4096 + (p >> 5) * 2 * 64 + (p & 31) * 2) * 3 + 2]! > 0.9;
            codes[k * 1024 + p] = white ? 0 : 9;
          }
        }
        return { value: { ...b, codes }, done: false as const };
      },
      [Symbol.iterator]() {
        return this;
      },
    };
  };
  const runWith = async (workers: 1 | 2) => {
    const tok = MagvitTokenizer.create(config, { seed: 8 });
    const task = magvitTask(tok, {}, { train: 'encoder' });
    assert.ok(task.engineModule, 'an encoder-only task can run in a worker');
    const names = Object.keys(task.trainableVariables());
    assert.ok(names.length > 0 && names.every((n) => n.startsWith('encoder.')), names.join(', '));
    const decoderBefore = tok.namedVariables().get('decoder.conv_out.weight')!.dataSync().slice();
    const before = tf.memory().numTensors;
    const events = await collect(train({ model: task, data: data(), schedule: { kind: 'constant', lr: 1e-3 }, totalSteps: 2, gradAccumSteps: 2, workers }));
    const leaked = tf.memory().numTensors - before;
    assert.deepEqual(Array.from(tok.namedVariables().get('decoder.conv_out.weight')!.dataSync()), Array.from(decoderBefore), 'the decoder changed');
    const w = new Map([...tok.namedVariables()].map(([n, v]) => [n, v.dataSync().slice()]));
    task.dispose();
    tok.dispose();
    return { steps: events.filter((e): e is StepEvent => e.type === 'step'), w, leaked };
  };
  const one = await runWith(1);
  const two = await runWith(2);
  assert.equal(one.leaked, 0);
  assert.equal(two.leaked, 0);
  one.steps.forEach((a, i) => {
    const b = two.steps[i]!;
    assert.ok(Math.abs(a.loss - b.loss) < 1e-4, `loss ${a.loss} vs ${b.loss}`);
    assert.ok(a.parts.bits! >= 0 && a.parts.bits! <= 1 && Math.abs(a.parts.codes! - b.parts.codes!) < 1e-6);
  });
  let worst = 0;
  for (const [n, a] of one.w) a.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - two.w.get(n)![i]!))));
  assert.ok(worst < 1e-4, `weights differ by ${worst}`);
  const tok = MagvitTokenizer.create(config, { seed: 8 });
  const task = magvitTask(tok, {}, { train: 'encoder' });
  const plain = new ShapesWorldImageData({ seed: 7, batch: 2 }).next().value;
  assert.throws(() => tf.tidy(() => task.lossFn(plain).total), /target codes/);
  assert.throws(() => magvitTask(tok, {}, { train: 'encoder', localCode: { weight: 1 } }), /encoder-only/);
  task.dispose();
  tok.dispose();
});

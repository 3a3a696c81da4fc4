import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { SAMPLER_TYPES, type ImageGenerationEvent, type ShowoPipelines } from '@showo/sampler';
import { PROMPTING_TYPES } from '@showo/prompting';
import { MAGVIT_TYPES } from '@showo/tokenizer-magvit';
import { SHOWO_CORE_TYPES } from '@showo/showo-core';
import { TRAINER_TYPES } from '@showo/trainer';
import { NoResultError, SHOWO_TYPES, createShowo, toPng, type GenerationDefaults, type Showo } from '@showo/showo';
import { decodeImage } from '@showo/tokenizer-magvit';
import { backend, tinyBundle } from './helpers.js';

let showo: Showo;
let baseline = 0;

/** Resolves after `n` macrotasks (a cancelled generation reaches its next check). */
const ticks = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

before(async () => {
  await backend();
  baseline = tf.memory().numTensors;
  showo = await createShowo({ model: await tinyBundle(), backend: 'wasm', seed: 7 });
  await showo.t2i('a red circle', { steps: 1 }).image(); // first use builds lazily cached tables
});

after(async () => {
  await showo.dispose();
  assert.equal(tf.memory().numTensors, baseline, 'dispose frees the model and the image tokenizer');
});

test('the container is built from every package module and serves the pieces', () => {
  const c = showo.container;
  for (const token of [PROMPTING_TYPES.UniversalPrompting, MAGVIT_TYPES.Tokenizer, SAMPLER_TYPES.ImageCodec, TRAINER_TYPES.StageRunner, SHOWO_TYPES.Bundle]) {
    assert.ok(c.isBound(token), String(token));
  }
  assert.equal(c.get<string>(SHOWO_CORE_TYPES.ModelDir), showo.bundle.showo.dir);
  assert.equal(showo.imageSize, 64);
  assert.equal(showo.backend.name, 'wasm');
  assert.equal(showo.workers, 1);
});

test('t2i: 64×64 images, one per prompt, typed events; tensors are where they were', async () => {
  const n = tf.memory().numTensors;
  const events: ImageGenerationEvent[] = [];
  const images = await showo.t2i(['a red circle', 'two blue squares'], { steps: 3 }).images((e) => events.push(e));
  assert.equal(images.length, 2);
  for (const img of images) {
    assert.equal(img.width, 64);
    assert.equal(img.height, 64);
    assert.equal(img.data.length, 64 * 64 * 3);
  }
  assert.deepEqual(
    events.map((e) => e.type),
    ['start', 'step', 'step', 'step', 'done'],
  );
  assert.equal(tf.memory().numTensors, n);
  // PNG round trip.
  const back = decodeImage(toPng(images[0]!));
  assert.deepEqual([...back.data], [...images[0]!.data]);
});

test('a request seed is reproducible; without one the shared seeded source advances', async () => {
  const a = await showo.t2i('a red circle', { seed: 11 }).result();
  const b = await showo.t2i('a red circle', { seed: 11 }).result();
  assert.deepEqual([...a.codes[0]!], [...b.codes[0]!]);
  const c = await showo.t2i('a red circle').result();
  const d = await showo.t2i('a red circle').result();
  assert.notDeepEqual([...c.codes[0]!], [...d.codes[0]!]);
});

test('unsubscribing mid-generation stops it and frees every tensor', async () => {
  const n = tf.memory().numTensors;
  let steps = 0;
  await new Promise<void>((resolve) => {
    const sub = showo.t2i('a red circle', { steps: 8, guidanceScale: 2 }).subscribe((e) => {
      if (e.type === 'step' && ++steps === 2) {
        sub.unsubscribe();
        resolve();
      }
    });
  });
  await ticks();
  assert.equal(steps, 2);
  assert.equal(tf.memory().numTensors, n);
});

test('aborting ends the stream (result() rejects with NoResultError) and frees every tensor', async () => {
  const n = tf.memory().numTensors;
  const ac = new AbortController();
  let steps = 0;
  await assert.rejects(
    showo.t2i('a red circle', { steps: 8, signal: ac.signal }).result((e) => {
      if (e.type === 'step' && ++steps === 2) ac.abort();
    }),
    NoResultError,
  );
  await ticks();
  assert.equal(tf.memory().numTensors, n);
  // A callback that throws cancels the generation and rejects with its error.
  await assert.rejects(
    showo.t2i('a red circle', { steps: 8 }).result((e) => {
      if (e.type === 'step') throw new Error('stop here');
    }),
    /stop here/,
  );
  await ticks();
  assert.equal(tf.memory().numTensors, n);
});

test('invalid requests and inputs arrive as stream errors, after freeing everything', async () => {
  const n = tf.memory().numTensors;
  await assert.rejects(showo.t2i('a red circle', { steps: 0 }).image(), /steps/);
  await assert.rejects(showo.answer('/no/such/image.png', 'what?').answer(), /no such file|ENOENT/);
  await assert.rejects(showo.edit({ width: 2, height: 2, data: new Uint8Array(3) }, 'x').image(), /needs 12 bytes/);
  assert.equal(tf.memory().numTensors, n);
});

test('answer: text answers, one per image and question', async () => {
  const n = tf.memory().numTensors;
  const image = await showo.t2i('a red circle').image();
  const one = await showo.answer(image, 'what color is the circle?').answer();
  assert.equal(typeof one, 'string');
  const many = await showo.answer([image, image], ['what color is the circle?', 'how many circles are there?'], { maxNewTokens: 4 }).answers();
  assert.equal(many.length, 2);
  assert.equal(tf.memory().numTensors, n);
});

test('inpaint keeps every token outside the region; extrapolate grows the canvas; edit keeps the size', async () => {
  const n = tf.memory().numTensors;
  const image = await showo.t2i('a red circle').image();
  const codec = showo.pipelines.deps.codec!;
  const original = (await codec.encode([image]))[0]!;
  const r = await showo.inpaint(image, 'a blue square', { box: { x: 0, y: 0, width: 32, height: 16 } }).result();
  const codes = r.codes[0]!;
  for (let t = 0; t < 64; t++) {
    const inside = t % 8 < 4 && Math.floor(t / 8) < 2;
    if (!inside) assert.equal(codes[t], original[t], `token ${t} outside the box is kept`);
  }
  const wide = await showo.extrapolate(image, 'a blue square', { direction: 'left', amount: 20 }).image();
  assert.deepEqual([wide.width, wide.height], [88, 64]); // 20 px → 3 tokens of 8 px
  const edited = await showo.edit(image, 'a blue square', { strength: 0.25 }).result();
  const changed = edited.codes[0]!.filter((c, i) => c !== original[i]).length;
  assert.ok(changed <= 16, `at most round(0.25·64) tokens change, got ${changed}`);
  assert.equal(tf.memory().numTensors, n);
});

test('howto: guided mode draws one keyframe per given step', async () => {
  const n = tf.memory().numTensors;
  const frames = await showo.howto('how do i build a red circle and a blue square?', ['step 1: place a red circle on the left.', 'step 2: add a blue square on the right.'], { steps: 2 }).images();
  assert.equal(frames.length, 2);
  assert.equal(frames[1]!.width, 64);
  assert.equal(tf.memory().numTensors, n);
});

test('a configure hook can rebind any part before use (here: the generation defaults)', async () => {
  const other = await createShowo({
    model: showo.bundle,
    backend: 'wasm',
    configure: (c) => {
      const d = c.get<GenerationDefaults>(SHOWO_TYPES.GenerationDefaults);
      c.rebind<GenerationDefaults>(SHOWO_TYPES.GenerationDefaults).toConstantValue({ ...d, t2i: { ...d.t2i, steps: 2 } });
    },
  });
  try {
    const events: ImageGenerationEvent[] = [];
    await other.t2i('a red circle').result((e) => events.push(e));
    assert.equal(events.filter((e) => e.type === 'step').length, 2);
    assert.ok(other.container.get<ShowoPipelines>(SAMPLER_TYPES.Pipelines));
  } finally {
    await other.dispose();
  }
  assert.throws(() => other.t2i('a red circle'), /disposed/);
});

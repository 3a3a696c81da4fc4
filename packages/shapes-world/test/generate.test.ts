import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EDGE_MARGIN,
  HELD_OUT,
  Rng,
  answerQuestion,
  boxesSeparated,
  describeScene,
  detectObjects,
  isHeldOut,
  objectBBox,
  parseCaption,
  parseHowtoQuestion,
  parseQuestion,
  parseStepText,
  questionsAbout,
  randomScene,
  renderScene,
  sample,
  sampleBatch,
  sampleContainsHeldOut,
  sampleStream,
  satisfiesWhere,
  scenesOf,
  scoreHowtoStep,
  scoreT2I,
  textMentionsHeldOut,
  textsOf,
  type HowtoSample,
  type MmuSample,
  type Sample,
  type Scene,
  type T2iSample,
} from '@showo/shapes-world';
import { howtoTransitionProblem } from './helpers.js';

function take(n: number, it: Iterator<Sample>): Sample[] {
  return Array.from({ length: n }, () => it.next().value as Sample);
}

function assertValidScene(scene: Scene): void {
  const boxes = scene.objects.map(objectBBox);
  for (const [i, b] of boxes.entries()) {
    const o = scene.objects[i]!;
    assert.ok(Number.isInteger(o.cx) && Number.isInteger(o.cy));
    assert.ok(b.x0 >= EDGE_MARGIN && b.y0 >= EDGE_MARGIN && b.x1 <= 63 - EDGE_MARGIN && b.y1 <= 63 - EDGE_MARGIN, `inside: ${JSON.stringify(o)}`);
    for (let j = 0; j < i; j++) assert.ok(boxesSeparated(boxes[j]!, b), `2 px apart: ${JSON.stringify(scene)}`);
  }
}

test('deterministic from the seed; different seeds differ; an Rng continues its stream', () => {
  for (const kind of ['class', 't2i', 'mmu', 'lm', 'howto'] as const) {
    assert.deepEqual(sampleBatch(kind, 30, 7), sampleBatch(kind, 30, 7));
    assert.notDeepEqual(sampleBatch(kind, 30, 7), sampleBatch(kind, 30, 8));
  }
  assert.deepEqual(take(50, sampleStream(['t2i', 'mmu'], 3)), take(50, sampleStream(['t2i', 'mmu'], 3)));
  assert.deepEqual(sample('mmu', 11), sample('mmu', 11), 'a numeric seed gives the same sample');
  const rng = new Rng(11);
  assert.notDeepEqual(sample('mmu', rng), sample('mmu', rng));
  // A foreign uniform source is accepted.
  let x = 0.1234;
  const lcg = () => (x = (x * 9301 + 0.49297) % 1);
  assert.equal(sample('t2i', lcg).kind, 't2i');
});

test('Rng: sfc32 stream is uniform enough and helpers stay in range', () => {
  const rng = new Rng(42);
  let sum = 0;
  const buckets = new Array(10).fill(0);
  for (let i = 0; i < 20000; i++) {
    const u = rng.next();
    assert.ok(u >= 0 && u < 1);
    sum += u;
    buckets[Math.floor(u * 10)]++;
  }
  assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
  for (const b of buckets) assert.ok(b > 1800 && b < 2200);
  const one = new Rng(() => 1);
  assert.equal(one.int(5), 4);
  assert.equal(one.range(3, 7), 7);
  assert.throws(() => new Rng(Number.NaN), /finite/);
});

test('held-out compositions never appear in 5000 training samples; they do when allowed', () => {
  const heldOutText = /\b(purple triangles?|orange circles?|green squares?)\b|paint the (triangle purple|circle orange|square green)/;
  let count = 0;
  for (const s of take(5000, sampleStream({ class: 1, t2i: 2, mmu: 2, lm: 1, howto: 1 }, 2025))) {
    for (const scene of scenesOf(s)) for (const o of scene.objects) assert.ok(!isHeldOut(o.shape, o.color), JSON.stringify(s));
    for (const t of textsOf(s)) assert.doesNotMatch(t, heldOutText);
    if (s.kind === 'mmu') {
      // An answer naming the missing half of a held-out pair would imply one too.
      const q = parseQuestion(s.question)!;
      if (q.kind === 'color') assert.ok(!isHeldOut(q.shape, s.answer as never));
      if (q.kind === 'shape') assert.ok(!isHeldOut(s.answer as never, q.color));
    }
    assert.equal(sampleContainsHeldOut(s), false);
    count++;
  }
  assert.equal(count, 5000);
  const allowed = take(3000, sampleStream({ t2i: 1, mmu: 1, howto: 1 }, 1, { allowHeldOut: true }));
  const seen = new Set<string>();
  for (const s of allowed) for (const sc of scenesOf(s)) for (const o of sc.objects) if (isHeldOut(o.shape, o.color)) seen.add(`${o.color} ${o.shape}`);
  assert.equal(seen.size, HELD_OUT.length);
});

test('t2i: scene valid, caption parses to the expectation, rendered scene passes the evaluator', () => {
  const kinds = new Set<string>();
  for (const s of sampleBatch('t2i', 1000, 31)) {
    assertValidScene(s.scene);
    assert.deepEqual(parseCaption(s.caption), s.expect, s.caption);
    const score = scoreT2I(s.expect, renderScene(s.scene));
    assert.ok(score.pass, `${s.caption}: ${score.failure} ${JSON.stringify(s.scene)}`);
    kinds.add(s.captionKind);
  }
  assert.deepEqual([...kinds].sort(), ['counting', 'relation', 'single', 'two']);
});

test('mmu: answers are correct (checked against the detector on the rendered image) and well spread', () => {
  const answers = new Map<string, Set<string>>();
  for (const s of sampleBatch('mmu', 1200, 77) as MmuSample[]) {
    assertValidScene(s.scene);
    const q = parseQuestion(s.question);
    assert.ok(q, s.question);
    assert.equal(q.kind, s.questionKind);
    assert.equal(answerQuestion(s.scene, q), s.answer);
    const seen = { objects: detectObjects(renderScene(s.scene)) };
    assert.equal(answerQuestion(seen, q), s.answer, `${s.question} on ${JSON.stringify(s.scene)}`);
    if (!answers.has(s.questionKind)) answers.set(s.questionKind, new Set());
    answers.get(s.questionKind)!.add(s.answer);
  }
  assert.deepEqual([...answers.get('count')!].sort(), ['one', 'three', 'two']);
  assert.deepEqual([...answers.get('exists')!].sort(), ['no', 'yes']);
  assert.equal(answers.get('where')!.size, 5);
  assert.equal(answers.get('color')!.size, 6);
  assert.equal(answers.get('shape')!.size, 3);
});

test('howto: 1–3 consistent steps, keyframes render to passing images, question names the final scene', () => {
  const plans = new Set<string>();
  for (const s of sampleBatch('howto', 400, 5) as HowtoSample[]) {
    plans.add(s.plan);
    assert.ok(s.steps.length >= 1 && s.steps.length <= 3);
    let prev: Scene = { objects: [] };
    s.steps.forEach((step, i) => {
      const parsed = parseStepText(step.text);
      assert.ok(parsed, step.text);
      assert.equal(parsed.n, i + 1);
      assert.deepEqual(parsed.action, step.action);
      assert.equal(howtoTransitionProblem(prev, step.action, step.scene), undefined, `${step.text} in ${JSON.stringify(s)}`);
      assertValidScene(step.scene);
      for (const o of step.scene.objects) assert.ok(satisfiesWhere(o, o.where));
      assert.ok(scoreHowtoStep(step, renderScene(step.scene)).pass);
      prev = step.scene;
    });
    assert.equal(parseHowtoQuestion(s.question), describeScene(prev));
  }
  assert.equal(plans.size, 6);
});

test('class and lm samples', () => {
  for (const s of sampleBatch('class', 200, 3)) {
    assert.equal(s.scene.objects.length, 1);
    assert.equal(s.scene.objects[0]!.shape, s.label);
  }
  const lm = sampleBatch('lm', 300, 3);
  assert.ok(lm.every((s) => s.text.length > 0 && !s.text.includes('  ')));
  assert.ok(lm.some((s) => /^a .*\. (what|how|is) .*\? \w+$/.test(s.text)), 'q-a lines present');
});

test('one sample with its rendering takes well under 1 ms', () => {
  const it = sampleStream({ class: 1, t2i: 1, mmu: 1, lm: 1, howto: 1 }, 1);
  take(200, it); // warm up
  const n = 3000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) for (const sc of scenesOf(it.next().value as Sample)) renderScene(sc);
  const perSample = (performance.now() - t0) / n;
  assert.ok(perSample < 0.5, `${perSample.toFixed(3)} ms per sample`);
});

test('t2i samples have exactly the objects the caption asks for', () => {
  for (const s of sampleBatch('t2i', 300, 9) as T2iSample[]) {
    const n = s.expect.objects.reduce((a, o) => a + (o.count ?? 1), 0);
    assert.equal(s.scene.objects.length, n);
  }
});

test('questionsAbout: every question has the answer answerQuestion gives, kinds alternate, held-out never named', async () => {
  const rng = new Rng(77);
  for (let i = 0; i < 50; i++) {
    const scene = randomScene(rng);
    const qs = questionsAbout(scene, rng);
    assert.ok(qs.length >= 4, `only ${qs.length} questions`);
    for (const q of qs) {
      assert.equal(answerQuestion(scene, q.question), q.answer, q.question);
      assert.ok(!textMentionsHeldOut(q.question), q.question);
    }
    const firstKinds = qs.slice(0, 3).map((q) => q.questionKind);
    assert.equal(new Set(firstKinds).size, firstKinds.length, `first kinds repeat: ${firstKinds}`);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  JsonlLineError,
  PALETTE,
  classifyMmuFailure,
  evaluateHowto,
  evaluateMmu,
  evaluateT2i,
  formatAccuracyTable,
  formatFailureTable,
  howtoItemFromSample,
  mmuItemFromSample,
  normalizeAnswer,
  parseHowtoJsonl,
  parseMmuJsonl,
  parseT2iJsonl,
  renderScene,
  sampleBatch,
  scoreHowtoStep,
  scoreMmu,
  scoreT2I,
  t2iItemFromSample,
  toJsonl,
  type HowtoItem,
  type MmuItem,
  type SceneObject,
  type T2iExpect,
  type T2iItem,
} from '@showo/shapes-world';

const img = (...objects: SceneObject[]) => renderScene({ objects });
const o = (shape: SceneObject['shape'], color: SceneObject['color'], cx: number, cy: number, size: SceneObject['size'] = 'large'): SceneObject => ({ shape, color, size, cx, cy });

test('JSONL parsing: valid lines, blank lines, line-numbered errors, collect mode, duplicates', () => {
  const good = '{"id":"a","prompt":"a red circle","tag":"single","expect":{"objects":[{"shape":"circle","color":"red"}]}}';
  const items = parseT2iJsonl(`${good}\n\n${good.replace('"a"', '"b"')}\r\n`);
  assert.deepEqual(items.map((i) => i.id), ['a', 'b']);

  const text = [good, '', '{"id":"x", "prompt": ', good.replace('"red"', '"pink"').replace('"a"', '"c"'), good].join('\n');
  assert.throws(
    () => parseT2iJsonl(text, { source: 't2i-test.jsonl' }),
    (e: unknown) => e instanceof JsonlLineError && e.line === 3 && e.code === 'JSONL_LINE' && /t2i-test\.jsonl:3: invalid JSON/.test(e.message),
  );
  const errors: JsonlLineError[] = [];
  const kept = parseT2iJsonl(text, { errors });
  assert.deepEqual(kept.map((i) => i.id), ['a']);
  assert.deepEqual(errors.map((e) => e.line), [3, 4, 5]);
  assert.match(errors[1]!.message, /expect\.objects\[0\]\.color: expected one of red, green/);
  assert.match(errors[2]!.message, /duplicate id "a"/);

  assert.throws(() => parseMmuJsonl('{"id":"m","scene":{"objects":[{"shape":"circle","color":"red","size":"huge","cx":1,"cy":2}]},"question":"q","answer":"a"}'), /scene\.objects\[0\]\.size/);
  assert.throws(() => parseHowtoJsonl('{"id":"h","question":"q","steps":[{"text":"t","scene":{"objects":[{"shape":"circle","color":"red","size":"large","cx":1,"cy":2}]}}]}'), /steps\[0\]\.scene\.objects\[0\]\.where/);
  assert.throws(() => parseT2iJsonl('{"id":"r","prompt":"p","tag":"relation","expect":{"objects":[{"shape":"circle","color":"red"}],"relation":{"a":0,"rel":"left_of","b":1}}}'), /relation\.b/);
  assert.throws(() => parseT2iJsonl('[1]'), /line: expected an object/);
});

test('scoreT2I passes the ideal image and names what is wrong otherwise', () => {
  const one: T2iExpect = { objects: [{ shape: 'circle', color: 'red', where: 'left' }] };
  assert.deepEqual(scoreT2I(one, img(o('circle', 'red', 15, 50))).pass, true);
  const fail = (e: T2iExpect, image: Uint8Array) => scoreT2I(e, image).failure;
  assert.equal(fail(one, img(o('circle', 'red', 50, 30))), 'wrong position');
  assert.equal(fail(one, img(o('circle', 'blue', 15, 30))), 'wrong color');
  assert.equal(fail(one, img(o('square', 'red', 15, 30))), 'wrong shape');
  assert.equal(fail(one, img()), 'missing object');
  assert.equal(fail(one, img(o('circle', 'red', 15, 30), o('square', 'blue', 45, 30))), 'extra object');
  const count: T2iExpect = { objects: [{ shape: 'square', color: 'yellow', count: 3 }] };
  assert.equal(scoreT2I(count, img(o('square', 'yellow', 12, 12), o('square', 'yellow', 45, 12), o('square', 'yellow', 30, 45))).pass, true);
  assert.equal(fail(count, img(o('square', 'yellow', 12, 12), o('square', 'yellow', 45, 12))), 'wrong count');
  const rel: T2iExpect = { objects: [{ shape: 'square', color: 'red' }, { shape: 'circle', color: 'blue' }], relation: { a: 0, rel: 'right_of', b: 1 } };
  assert.equal(scoreT2I(rel, img(o('square', 'red', 50, 30), o('circle', 'blue', 15, 30))).pass, true);
  assert.equal(fail(rel, img(o('square', 'red', 15, 30), o('circle', 'blue', 50, 30))), 'wrong relation');
  // A red blob that is no shape where the red circle should be.
  const blob = img();
  for (let x = 10; x < 40; x++) for (let y = 30; y < 33; y++) blob.set(PALETTE.red, (y * 64 + x) * 3);
  assert.equal(fail(one, blob), 'unknown shape');
});

test('scoreHowtoStep checks shape, colour and where of every keyframe object', () => {
  const scene = { objects: [{ ...o('triangle', 'green', 21, 49), where: 'left' as const }, { ...o('circle', 'blue', 47, 42), where: 'right' as const }] };
  assert.equal(scoreHowtoStep(scene, renderScene(scene)).pass, true);
  assert.equal(scoreHowtoStep({ scene }, img(o('triangle', 'green', 21, 49), o('circle', 'blue', 30, 42))).failure, 'wrong position');
  assert.equal(scoreHowtoStep(scene, img(o('triangle', 'green', 21, 49))).failure, 'missing object');
});

test('scoreMmu: trimmed, lower-cased, trailing period ignored; failures classified', () => {
  assert.equal(normalizeAnswer('  Blue. '), 'blue');
  assert.ok(scoreMmu(' Yes.', 'yes'));
  assert.ok(scoreMmu('a red circle and a blue square.', 'a red circle and a blue square'));
  assert.ok(!scoreMmu('blue!', 'blue'));
  assert.equal(classifyMmuFailure('what color is the circle?', 'red', 'blue'), 'wrong color');
  assert.equal(classifyMmuFailure('what color is the circle?', 'circle', 'blue'), 'malformed answer');
  assert.equal(classifyMmuFailure('how many circles are there?', 'two', 'one'), 'wrong count');
  assert.equal(classifyMmuFailure('is there a red circle?', 'no', 'yes'), 'wrong existence');
  assert.equal(classifyMmuFailure('where is the red circle?', 'on the left', 'at the top'), 'wrong position');
  assert.equal(classifyMmuFailure('describe the image.', 'a blue square and a red circle', 'a red circle and a blue square'), 'wrong order');
  assert.equal(classifyMmuFailure('describe the image.', 'a red circle', 'a red circle and a blue square'), 'missing object');
  assert.equal(classifyMmuFailure('describe the image.', 'a red circle and a blue circle', 'a red circle and a blue square'), 'wrong shape');
  assert.equal(classifyMmuFailure('describe the image.', 'a red circle and a blue circle', 'a red circle and a green circle'), 'wrong color');
  assert.equal(classifyMmuFailure('describe the image.', 'red', 'a red circle'), 'malformed answer');
  assert.equal(classifyMmuFailure('what color is the circle?', undefined, 'blue'), 'no output');
  assert.equal(classifyMmuFailure('what color is the circle?', 'Blue.', 'blue'), undefined);
});

test('reports: per-tag, per-kind and per-sequence accuracy with failure counts', () => {
  const t2i: T2iItem[] = [
    { id: 'a', prompt: 'a red circle', tag: 'single', expect: { objects: [{ shape: 'circle', color: 'red' }] } },
    { id: 'b', prompt: 'a blue square', tag: 'single', expect: { objects: [{ shape: 'square', color: 'blue' }] } },
    { id: 'c', prompt: 'a green circle on the left', tag: 'position', expect: { objects: [{ shape: 'circle', color: 'green', where: 'left' }] } },
    { id: 'd', prompt: 'a red square', tag: 'newtag', expect: { objects: [{ shape: 'square', color: 'red' }] } },
  ];
  const images = new Map([
    ['a', img(o('circle', 'red', 30, 30))],
    ['b', img(o('square', 'red', 30, 30))],
    ['c', img(o('circle', 'green', 50, 30))],
  ]);
  const r = evaluateT2i(t2i, images);
  assert.deepEqual(r.overall, { total: 4, passed: 1, accuracy: 0.25 });
  assert.deepEqual(Object.keys(r.byTag), ['single', 'position', 'newtag']);
  assert.deepEqual(r.byTag.single, { total: 2, passed: 1, accuracy: 0.5 });
  assert.deepEqual(r.failures, { 'wrong color': 1, 'wrong position': 1, 'no output': 1 });
  const table = formatAccuracyTable('tag', r.byTag, r.overall);
  assert.match(table, /\| single \| 1\/2 \| 50\.0% \|/);
  assert.match(table, /\| all \| 1\/4 \| 25\.0% \|/);
  assert.match(formatFailureTable(r.failures), /\| wrong color \| 1 \|/);

  const mmu: MmuItem[] = [
    { id: 'm1', scene: { objects: [] }, question: 'what color is the circle?', answer: 'red' },
    { id: 'm2', scene: { objects: [] }, question: 'how many circles are there?', answer: 'one' },
    { id: 'm3', scene: { objects: [] }, question: 'how many squares are there?', answer: 'two' },
  ];
  const m = evaluateMmu(mmu, (item) => (item.id === 'm3' ? 'three' : item.answer));
  assert.deepEqual(m.overall, { total: 3, passed: 2, accuracy: 2 / 3 });
  assert.deepEqual(m.byKind.count, { total: 2, passed: 1, accuracy: 0.5 });
  assert.deepEqual(m.failures, { 'wrong count': 1 });

  const step1 = { text: 'step 1: place a red circle on the left.', scene: { objects: [{ ...o('circle', 'red', 15, 30), where: 'left' as const }] } };
  const step2 = { text: 'step 2: add a blue square on the right.', scene: { objects: [...step1.scene.objects, { ...o('square', 'blue', 50, 30), where: 'right' as const }] } };
  const howto: HowtoItem[] = [
    { id: 'h1', question: 'how do i build a red circle and a blue square?', steps: [step1, step2] },
    { id: 'h2', question: 'how do i build a red circle?', steps: [step1] },
  ];
  const frames = new Map([
    ['h1', [renderScene(step1.scene), renderScene(step1.scene)]],
    ['h2', [renderScene(step1.scene)]],
  ]);
  const h = evaluateHowto(howto, frames);
  assert.deepEqual(h.steps, { total: 3, passed: 2, accuracy: 2 / 3 });
  assert.deepEqual(h.sequences, { total: 2, passed: 1, accuracy: 0.5 });
  assert.deepEqual(h.byLength, { '1': { total: 1, passed: 1, accuracy: 1 }, '2': { total: 1, passed: 0, accuracy: 0 } });
  assert.deepEqual(h.failures, { 'missing object': 1 });
  assert.deepEqual(h.items[0]!.steps.map((s) => s.pass), [true, false]);
});

test('generated samples written as JSONL read back and score perfectly on their own renderings', () => {
  const opts = { allowHeldOut: true };
  const t2i = sampleBatch('t2i', 40, 4, opts).map((s, i) => ({ s, item: t2iItemFromSample(s, `t-${i}`) }));
  const parsedT2i = parseT2iJsonl(toJsonl(t2i.map((x) => x.item)));
  assert.deepEqual(parsedT2i, t2i.map((x) => x.item));
  assert.equal(evaluateT2i(parsedT2i, (_it, k) => renderScene(t2i[k]!.s.scene)).overall.accuracy, 1);
  const mmu = sampleBatch('mmu', 40, 4, opts).map((s, i) => mmuItemFromSample(s, `m-${i}`));
  const parsedMmu = parseMmuJsonl(toJsonl(mmu));
  assert.deepEqual(parsedMmu, mmu);
  assert.equal(evaluateMmu(parsedMmu, (it) => it.answer).overall.accuracy, 1);
  const howto = sampleBatch('howto', 40, 4, opts).map((s, i) => howtoItemFromSample(s, `h-${i}`));
  const parsedHowto = parseHowtoJsonl(toJsonl(howto));
  assert.deepEqual(parsedHowto, howto);
  assert.equal(evaluateHowto(parsedHowto, (it) => it.steps.map((s) => renderScene(s.scene))).sequences.accuracy, 1);
  assert.ok(t2i.some((x) => x.item.tag === 'heldout') && t2i.some((x) => x.item.tag === 'position'));
});

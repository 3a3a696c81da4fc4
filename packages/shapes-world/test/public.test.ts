import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Rng,
  answerQuestion,
  describeScene,
  detectObjects,
  evaluateHowto,
  evaluateMmu,
  evaluateT2i,
  parseCaption,
  parseHowtoJsonl,
  parseHowtoQuestion,
  parseMmuJsonl,
  parseStepText,
  parseT2iJsonl,
  renderScene,
  satisfiesWhere,
  sceneForExpect,
  scoreHowtoStep,
  whereOf,
  type Scene,
} from '@showo/shapes-world';
import { howtoTransitionProblem, objectKeys, publicDir, readPublic } from './helpers.js';

const { dir, required } = publicDir();
const skip = dir ? false : 'shared/shapes-world not found (set SHOWO_SHARED)';

test('the shared Shapes World folder is present (required under CI)', { skip: !required && !dir ? skip : false }, () => {
  assert.ok(dir, 'shared/shapes-world must exist under CI=true');
});

test('mmu-public: every scene renders and detects back to itself; every answer is reproduced', { skip }, () => {
  const items = parseMmuJsonl(readPublic(dir!, 'mmu-public.jsonl'), { source: 'mmu-public.jsonl' });
  assert.ok(items.length >= 100);
  for (const item of items) {
    const found = detectObjects(renderScene(item.scene));
    assert.deepEqual(objectKeys(found), objectKeys(item.scene.objects), item.id);
    assert.ok(found.every((d) => d.shape !== 'unknown'));
    for (const d of found) assert.deepEqual(whereOf(d), whereOf(item.scene.objects.find((o) => o.cx === d.cx && o.cy === d.cy)!));
    assert.equal(answerQuestion(item.scene, item.question), item.answer, `${item.id}: ${item.question}`);
    assert.equal(answerQuestion({ objects: found }, item.question), item.answer, `${item.id} from the detector`);
  }
  const report = evaluateMmu(items, (item) => answerQuestion(item.scene, item.question));
  assert.equal(report.overall.accuracy, 1);
  assert.deepEqual(Object.keys(report.byKind).sort(), ['color', 'count', 'describe', 'exists', 'shape', 'where']);
});

test('howto-public: every keyframe renders to an image that passes, with its where; steps follow the rules', { skip }, () => {
  const items = parseHowtoJsonl(readPublic(dir!, 'howto-public.jsonl'), { source: 'howto-public.jsonl' });
  assert.ok(items.length >= 20);
  for (const item of items) {
    let prev: Scene = { objects: [] };
    item.steps.forEach((step, i) => {
      const image = renderScene(step.scene);
      const found = detectObjects(image);
      assert.deepEqual(objectKeys(found), objectKeys(step.scene.objects), item.id);
      for (const o of step.scene.objects) assert.ok(satisfiesWhere(o, o.where), `${item.id} step ${i + 1}: ${o.where}`);
      assert.ok(scoreHowtoStep(step, image).pass, `${item.id} step ${i + 1}`);
      const parsed = parseStepText(step.text);
      assert.ok(parsed && parsed.n === i + 1, step.text);
      assert.equal(howtoTransitionProblem(prev, parsed.action, step.scene), undefined, `${item.id}: ${step.text}`);
      prev = step.scene;
    });
    assert.equal(parseHowtoQuestion(item.question), describeScene(prev), item.id);
  }
  const report = evaluateHowto(items, (item) => item.steps.map((s) => renderScene(s.scene)));
  assert.equal(report.sequences.accuracy, 1);
  assert.equal(report.steps.accuracy, 1);
});

test('t2i-public: prompts parse to their expectations; ideal images pass, mismatched ones fail', { skip }, () => {
  const items = parseT2iJsonl(readPublic(dir!, 't2i-public.jsonl'), { source: 't2i-public.jsonl' });
  assert.ok(items.length >= 100);
  for (const item of items) assert.deepEqual(parseCaption(item.prompt), item.expect, `${item.id}: ${item.prompt}`);
  const rng = new Rng(17);
  const ideal = new Map(items.map((i) => [i.id, renderScene(sceneForExpect(i.expect, rng))]));
  const report = evaluateT2i(items, ideal);
  assert.equal(report.overall.accuracy, 1);
  for (const tag of ['single', 'two', 'counting', 'colors', 'position', 'relation', 'heldout']) assert.equal(report.byTag[tag]?.accuracy, 1, tag);
  // Each item scored against the next item's ideal image: fails unless both ask for the same thing.
  const shifted = evaluateT2i(items, (_item, k) => ideal.get(items[(k + 1) % items.length]!.id));
  assert.ok(shifted.overall.accuracy < 0.2);
  const failed = shifted.items.filter((r) => !r.pass);
  assert.ok(failed.every((r) => r.failure !== undefined));
});

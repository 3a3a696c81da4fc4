import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  answerQuestion,
  askableWhere,
  countingCaption,
  describeScene,
  horizontalThird,
  parseCaption,
  parseQuestion,
  parseStepText,
  relationCaption,
  sampleStream,
  satisfiesWhere,
  singleCaption,
  splitWords,
  stepText,
  textsOf,
  verticalThird,
  vocabularyWords,
  whereOf,
  type Scene,
} from '@showo/shapes-world';

test('thirds of 64 px: x ≤ 21 left, 22…42 centre, ≥ 43 right (3x < 64, 3x < 128)', () => {
  assert.equal(horizontalThird(0), 'left');
  assert.equal(horizontalThird(21), 'left');
  assert.equal(horizontalThird(21.5), 'center');
  assert.equal(horizontalThird(22), 'center');
  assert.equal(horizontalThird(42), 'center');
  assert.equal(horizontalThird(42.5), 'center', '127.5 < 128');
  assert.equal(horizontalThird(43), 'right');
  assert.equal(verticalThird(21), 'top');
  assert.equal(verticalThird(42), 'middle');
  assert.equal(verticalThird(43), 'bottom');
  assert.deepEqual(whereOf({ cx: 10, cy: 50 }), { horizontal: 'left', vertical: 'bottom' });
});

test('position words: loose (evaluation) vs askable (answers, no corners)', () => {
  assert.equal(satisfiesWhere({ cx: 10, cy: 50 }, 'left'), true, 'left = left third, any row');
  assert.equal(satisfiesWhere({ cx: 10, cy: 50 }, 'bottom'), true);
  assert.equal(satisfiesWhere({ cx: 30, cy: 50 }, 'center'), false);
  assert.equal(satisfiesWhere({ cx: 30, cy: 30 }, 'center'), true);
  assert.equal(askableWhere({ cx: 10, cy: 50 }), undefined, 'corner');
  assert.equal(askableWhere({ cx: 10, cy: 30 }), 'left');
  assert.equal(askableWhere({ cx: 50, cy: 30 }), 'right');
  assert.equal(askableWhere({ cx: 30, cy: 5 }), 'top');
  assert.equal(askableWhere({ cx: 23, cy: 52 }), 'bottom');
  assert.equal(askableWhere({ cx: 30, cy: 30 }), 'center');
});

test('caption builders follow the grammar', () => {
  assert.equal(singleCaption({ color: 'red', shape: 'circle' }), 'a red circle');
  assert.equal(singleCaption({ color: 'red', shape: 'circle', size: 'small', where: 'top' }), 'a small red circle at the top');
  assert.equal(countingCaption(3, 'blue', 'square'), 'three blue squares');
  assert.equal(relationCaption({ color: 'red', shape: 'square' }, 'right_of', { color: 'blue', shape: 'circle' }), 'a red square to the right of a blue circle');
  assert.equal(stepText(2, { op: 'add', color: 'blue', shape: 'circle', where: 'right' }), 'step 2: add a blue circle on the right.');
  assert.equal(stepText(3, { op: 'paint', shape: 'triangle', color: 'orange' }), 'step 3: paint the triangle orange.');
  assert.equal(stepText(1, { op: 'remove', shape: 'triangle', color: 'orange' }), 'step 1: remove the orange triangle.');
  assert.deepEqual(parseStepText('step 3: paint the triangle orange.'), { n: 3, action: { op: 'paint', shape: 'triangle', color: 'orange' } });
});

test('parseCaption gives the evaluation expectation', () => {
  assert.deepEqual(parseCaption('a large green circle'), { objects: [{ shape: 'circle', color: 'green' }] });
  assert.deepEqual(parseCaption('a green circle at the top'), { objects: [{ shape: 'circle', color: 'green', where: 'top' }] });
  assert.deepEqual(parseCaption('two green circles'), { objects: [{ shape: 'circle', color: 'green', count: 2 }] });
  assert.deepEqual(parseCaption('a blue triangle and a red circle'), {
    objects: [
      { shape: 'triangle', color: 'blue' },
      { shape: 'circle', color: 'red' },
    ],
  });
  assert.deepEqual(parseCaption('a orange square below a green triangle'), {
    objects: [
      { shape: 'square', color: 'orange' },
      { shape: 'triangle', color: 'green' },
    ],
    relation: { a: 0, rel: 'below', b: 1 },
  });
  assert.equal(parseCaption('a pink circle'), undefined);
  assert.equal(parseCaption('one red circle'), undefined);
});

test('answers follow the SPEC, and are undefined when the language has no definite answer', () => {
  const scene: Scene = {
    objects: [
      { shape: 'triangle', color: 'blue', size: 'large', cx: 42, cy: 38 },
      { shape: 'circle', color: 'green', size: 'small', cx: 37, cy: 10 },
      { shape: 'square', color: 'blue', size: 'small', cx: 17, cy: 29 },
    ],
  };
  assert.equal(answerQuestion(scene, 'describe the image.'), 'a blue square and a green circle and a blue triangle');
  assert.equal(answerQuestion(scene, 'what color is the circle?'), 'green');
  assert.equal(answerQuestion(scene, 'what shape is the green object?'), 'circle');
  assert.equal(answerQuestion(scene, 'what shape is the blue object?'), undefined, 'two blue objects');
  assert.equal(answerQuestion(scene, 'how many squares are there?'), 'one');
  assert.equal(answerQuestion(scene, 'how many circles are there?'), 'one');
  assert.equal(answerQuestion(scene, 'is there a blue square?'), 'yes');
  assert.equal(answerQuestion(scene, 'is there a red square?'), 'no');
  assert.equal(answerQuestion(scene, 'where is the green circle?'), 'at the top');
  assert.equal(answerQuestion(scene, 'where is the blue square?'), 'on the left');
  assert.equal(answerQuestion(scene, 'where is the blue triangle?'), 'in the center');
  assert.equal(answerQuestion(scene, 'what is this?'), undefined);
  assert.deepEqual(parseQuestion('How many triangles are there?'), { kind: 'count', shape: 'triangle' });
  // Ties in x are ordered by y.
  assert.equal(
    describeScene({ objects: [{ shape: 'circle', color: 'red', cx: 20, cy: 40 }, { shape: 'square', color: 'red', cx: 20, cy: 10 }] }),
    'a red square and a red circle',
  );
});

test('splitWords separates ? . : , and keeps numbers as words', () => {
  assert.deepEqual(splitWords('step 1: add a red circle on the left.'), ['step', '1', ':', 'add', 'a', 'red', 'circle', 'on', 'the', 'left', '.']);
  assert.deepEqual(splitWords('what color is the circle?'), ['what', 'color', 'is', 'the', 'circle', '?']);
  assert.deepEqual(splitWords('a, b'), ['a', ',', 'b']);
  assert.deepEqual(splitWords('  '), []);
});

test('vocabulary: sorted, unique, covers every generated sentence and is all used', () => {
  const vocab = vocabularyWords();
  assert.deepEqual([...vocab], [...new Set(vocab)].sort());
  const known = new Set(vocab);
  const used = new Set<string>();
  let sentences = 0;
  for (const s of sampleStream({ t2i: 1, mmu: 1, lm: 1, howto: 1, class: 1 }, 99)) {
    for (const text of textsOf(s)) {
      for (const w of splitWords(text)) {
        assert.ok(known.has(w), `"${w}" of "${text}" is not in the vocabulary`);
        used.add(w);
      }
      sentences++;
    }
    if (sentences >= 3000) break;
  }
  assert.deepEqual([...known].filter((w) => !used.has(w)), [], 'every vocabulary word is produced');
});

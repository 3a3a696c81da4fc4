import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { InvalidArgumentError } from '@showo/runtime';
import {
  ENDOFTEXT_TOKEN,
  UNK_TOKEN,
  UnknownWordError,
  WordTokenizer,
  buildWordVocabulary,
  joinWords,
  loadWordTokenizer,
  saveWordVocabulary,
  splitWords,
} from '../src/index.js';

const SENTENCES = [
  'a small red circle on the left',
  'two blue squares',
  'what color is the triangle?',
  'describe the image.',
  'how do i build a red circle and a blue square?',
  'step 1: place a red circle on the left.',
  'step 2: paint the circle green.',
];

test('splitWords splits on whitespace and separates ? . : ,', () => {
  assert.deepEqual(splitWords('step 1: place a red circle.'), ['step', '1', ':', 'place', 'a', 'red', 'circle', '.']);
  assert.deepEqual(splitWords('  what,  is\tit?  '), ['what', ',', 'is', 'it', '?']);
  assert.deepEqual(splitWords(''), []);
  assert.equal(joinWords(['step', '1', ':', 'place', 'a', 'red', 'circle', '.']), 'step 1: place a red circle.');
  assert.equal(joinWords(['yes', ',', 'a', 'b', '?']), 'yes, a b?');
});

test('buildWordVocabulary: sorted tokens, punctuation, then <unk> and <|endoftext|> last', () => {
  const vocab = buildWordVocabulary(['b a', 'a?', UNK_TOKEN]);
  assert.deepEqual(vocab, [',', '.', ':', '?', 'a', 'b', UNK_TOKEN, ENDOFTEXT_TOKEN]);
  // Independent of input order.
  assert.deepEqual(buildWordVocabulary(['a?', 'b a']), vocab);
  const tok = new WordTokenizer(vocab);
  assert.equal(tok.bosId, vocab.length - 1);
  assert.equal(tok.eosId, tok.bosId);
  assert.equal(tok.unkId, vocab.length - 2);
  assert.equal(tok.vocabSize, vocab.length);
  assert.deepEqual(tok.specialTokens, { [ENDOFTEXT_TOKEN]: vocab.length - 1, [UNK_TOKEN]: vocab.length - 2 });
  assert.equal(tok.padId, undefined);
});

test('round trip on sentences of the language; no BOS added', () => {
  const tok = new WordTokenizer(buildWordVocabulary(SENTENCES));
  for (const s of SENTENCES) {
    const ids = tok.encode(s);
    assert.equal(ids.includes(tok.unkId), false);
    assert.equal(ids.includes(tok.bosId), false);
    assert.equal(tok.decode(ids), s);
  }
  assert.equal(tok.decode([]), '');
  assert.equal(tok.decode([tok.bosId, ...tok.encode('two blue squares'), tok.eosId], { skipSpecialTokens: true }), 'two blue squares');
  assert.equal(tok.decode([tok.bosId, ...tok.encode('two')]), `${ENDOFTEXT_TOKEN} two`);
});

test('unknown words: <unk> by default, UnknownWordError naming the word in strict mode', () => {
  const vocab = buildWordVocabulary(SENTENCES);
  const lenient = new WordTokenizer(vocab);
  const ids = lenient.encode('a purple circle');
  assert.deepEqual(ids, [lenient.tokenToId('a'), lenient.unkId, lenient.tokenToId('circle')]);
  assert.equal(lenient.decode(ids), `a ${UNK_TOKEN} circle`); // visible, never dropped
  const strict = new WordTokenizer(vocab, { strict: true });
  assert.throws(() => strict.encode('a purple circle'), (e: unknown) => e instanceof UnknownWordError && e.word === 'purple' && /purple/.test(e.message));
  assert.equal(lenient.withStrict(true).strict, true);
  assert.deepEqual(strict.encode('a red circle'), lenient.encode('a red circle'));
});

test('invalid vocabularies and ids are rejected', () => {
  assert.throws(() => new WordTokenizer(['a', 'b']), InvalidArgumentError); // no specials
  assert.throws(() => new WordTokenizer(['a', 'a', UNK_TOKEN, ENDOFTEXT_TOKEN]), InvalidArgumentError);
  assert.throws(() => new WordTokenizer(['a b', UNK_TOKEN, ENDOFTEXT_TOKEN]), InvalidArgumentError);
  assert.throws(() => new WordTokenizer(['a.', UNK_TOKEN, ENDOFTEXT_TOKEN]), InvalidArgumentError);
  assert.throws(() => new WordTokenizer([]), InvalidArgumentError);
  const tok = new WordTokenizer(buildWordVocabulary(['a']));
  assert.throws(() => tok.decode([99]), InvalidArgumentError);
  assert.throws(() => tok.decode([1.5]), InvalidArgumentError);
});

test('vocabulary file round trip', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'showo-word-'));
  try {
    const file = path.join(dir, 'vocab.json');
    const vocab = buildWordVocabulary(SENTENCES);
    saveWordVocabulary(file, vocab);
    const tok = loadWordTokenizer(file, { strict: true });
    assert.deepEqual(tok.vocabulary, vocab);
    assert.equal(tok.strict, true);
    fs.writeFileSync(file, '{"not": "a list"}');
    assert.throws(() => loadWordTokenizer(file), InvalidArgumentError);
    assert.throws(() => loadWordTokenizer(path.join(dir, 'missing.json')), InvalidArgumentError);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

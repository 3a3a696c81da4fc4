import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '@showo/runtime';
import { OFFICIAL_SPECIAL_TOKENS, TokenLayout, UnknownSpecialTokenError } from '../src/index.js';
import { readFixture, tinyDir } from './fixtures.js';

test('layout reproduces config.json token_ids of showo-tiny', (t) => {
  const dir = tinyDir();
  if (!dir) return t.skip('fixtures missing');
  const config = readFixture(dir, 'config.json');
  const layout = TokenLayout.fromShowoConfig(config.showo, { bosId: config.token_ids['bos(<|sot|>)'] });
  assert.deepEqual(layout.tokenIds(), config.token_ids);
  assert.equal(layout.vocabSize, config.showo.vocab_size);
  assert.equal(layout.maskId, config.showo.mask_token_id);
  assert.equal(layout.imageOffset, config.showo.llm_vocab_size + config.showo.num_new_special_tokens);
});

test('official order of the ten specials, codebook and [MASK] (Phi-sized layout)', () => {
  // Full-size Show-o: llm_vocab_size 50295, codebook 8192 → vocab_size 58498.
  const layout = new TokenLayout({ llmVocabSize: 50295, codebookSize: 8192, bosId: 50256, vocabSize: 58498 });
  OFFICIAL_SPECIAL_TOKENS.forEach((name, i) => assert.equal(layout.special(name), 50295 + i));
  assert.equal(layout.padId, 50295);
  assert.equal(layout.imageOffset, 50305);
  assert.equal(layout.maskId, 58497);
  assert.equal(layout.special('[MASK]'), 58497);
  assert.equal(layout.special('<|sot|>'), 50256);
  assert.equal(layout.special('<|eot|>'), 50256);
  assert.equal(layout.special('<|pad|>'), 50295);
  assert.throws(() => new TokenLayout({ llmVocabSize: 50295, codebookSize: 8192, bosId: 50256, vocabSize: 58000 }), InvalidArgumentError);
});

test('codes ↔ ids', () => {
  const layout = new TokenLayout({ llmVocabSize: 200, codebookSize: 64, bosId: 199 });
  assert.equal(layout.codeToId(0), 210);
  assert.equal(layout.codeToId(63), 273);
  assert.equal(layout.idToCode(273), 63);
  assert.deepEqual(layout.codesToIds([1, 2]), [211, 212]);
  assert.deepEqual(layout.idsToCodes([211, 212]), [1, 2]);
  assert.equal(layout.isImageId(210), true);
  assert.equal(layout.isImageId(274), false); // [MASK] is not a code
  assert.equal(layout.isImageOrMaskId(274), true);
  assert.equal(layout.isImageId(209), false);
  assert.throws(() => layout.codeToId(64), InvalidArgumentError);
  assert.throws(() => layout.codeToId(-1), InvalidArgumentError);
  assert.throws(() => layout.idToCode(274), InvalidArgumentError);
  assert.equal(layout.specialName(205), '<|t2i|>');
  assert.equal(layout.specialName(274), '[MASK]');
  assert.equal(layout.specialName(5), undefined);
});

test('unknown special token is a typed error', () => {
  const layout = new TokenLayout({ llmVocabSize: 200, codebookSize: 64, bosId: 199 });
  assert.throws(() => layout.special('<|nope|>'), (e: unknown) => e instanceof UnknownSpecialTokenError && e.token === '<|nope|>');
  assert.equal(layout.hasSpecial('<|nope|>'), false);
});

test('plugin tokens are appended after [MASK] and keep every existing id', () => {
  const layout = new TokenLayout({ llmVocabSize: 200, codebookSize: 64, bosId: 199 });
  const before = layout.tokenIds();
  assert.equal(layout.ensurePluginToken('<|howto|>'), 275);
  assert.equal(layout.ensurePluginToken('<|edit|>'), 276);
  assert.equal(layout.ensurePluginToken('<|howto|>'), 275); // idempotent
  assert.equal(layout.vocabSize, 277);
  assert.equal(layout.baseVocabSize, 275);
  assert.equal(layout.maskId, 274); // unchanged: no longer vocabSize − 1
  assert.equal(layout.special('<|edit|>'), 276);
  assert.equal(layout.specialName(275), '<|howto|>');
  const after = layout.tokenIds();
  for (const [k, v] of Object.entries(before)) assert.deepEqual(after[k], v, k);
  assert.throws(() => layout.ensurePluginToken('<|t2i|>'), InvalidArgumentError);
  // A checkpoint trained with plugins pins their order.
  const pinned = new TokenLayout({ llmVocabSize: 200, codebookSize: 64, bosId: 199, pluginTokens: ['<|edit|>', '<|howto|>'] });
  assert.equal(pinned.special('<|edit|>'), 275);
  assert.equal(pinned.special('<|howto|>'), 276);
  assert.deepEqual(pinned.pluginTokens, ['<|edit|>', '<|howto|>']);
});

test('invalid layout options are rejected', () => {
  assert.throws(() => new TokenLayout({ llmVocabSize: 200, codebookSize: 64, bosId: 200 }), InvalidArgumentError);
  assert.throws(() => new TokenLayout({ llmVocabSize: 200, codebookSize: 0, bosId: 1 }), InvalidArgumentError);
  assert.throws(() => new TokenLayout({ llmVocabSize: 200, codebookSize: 64, bosId: 1, numNewSpecialTokens: 9 }), InvalidArgumentError);
});

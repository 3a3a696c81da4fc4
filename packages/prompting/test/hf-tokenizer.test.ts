import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { InvalidArgumentError } from '@showo/runtime';
import { HfTextTokenizer, loadHfTokenizer } from '../src/index.js';

// A tiny tokenizer.json of the model type Phi-1.5 uses (CodeGen = GPT-2 byte-level BPE): ByteLevel
// pre-tokenizer/decoder, BPE merges, <|endoftext|> as the added special token and the last id.
const VOCAB = ['r', 'e', 'd', 'c', 'i', 'l', 'Ġ', 're', 'red', 'Ġc', 'ir', 'Ġcir', 'cl', 'cle', 'Ġcircle'];
const MERGES = ['r e', 're d', 'Ġ c', 'i r', 'Ġc ir', 'c l', 'cl e', 'Ġcir cle'];
const EOT = VOCAB.length;

function tokenizerJson(): object {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: EOT, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: Object.fromEntries(VOCAB.map((t, i) => [t, i])),
      merges: MERGES,
    },
  };
}

const CONFIG = {
  add_prefix_space: false,
  bos_token: '<|endoftext|>',
  eos_token: '<|endoftext|>',
  unk_token: '<|endoftext|>',
  clean_up_tokenization_spaces: true,
  model_max_length: 2048,
  tokenizer_class: 'CodeGenTokenizer',
};

test('BPE tokenizer from a local Hugging Face folder: exact ids, no BOS, decode', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'showo-hf-'));
  try {
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(CONFIG));
    const tok = loadHfTokenizer(dir);
    const id = (t: string) => VOCAB.indexOf(t);
    assert.deepEqual(tok.encode('red circle'), [id('red'), id('Ġcircle')]);
    assert.deepEqual(tok.encode('rice'), [id('r'), id('i'), id('c'), id('e')]); // no merge applies
    assert.deepEqual(tok.encode('red<|endoftext|>'), [id('red'), EOT]);
    assert.deepEqual(tok.encode(''), []);
    assert.equal(tok.decode([id('red'), id('Ġcircle')]), 'red circle');
    assert.equal(tok.decode([EOT, id('red')], { skipSpecialTokens: true }), 'red');
    assert.equal(tok.decode([]), '');
    assert.equal(tok.bosId, EOT);
    assert.equal(tok.eosId, EOT);
    assert.equal(tok.padId, undefined);
    assert.equal(tok.vocabSize, EOT + 1); // len(tokenizer)
    assert.deepEqual(tok.specialTokens, { '<|endoftext|>': EOT });
    assert.throws(() => tok.decode([999]), InvalidArgumentError);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("Show-o's own tokens in the folder do not count as text vocabulary", () => {
  const json = tokenizerJson() as { added_tokens: object[] };
  json.added_tokens.push({ id: EOT + 1, content: '[PAD]', special: true }, { id: EOT + 2, content: '<|soi|>', special: false });
  const tok = new HfTextTokenizer(json, { ...CONFIG, pad_token: '[PAD]' });
  assert.equal(tok.vocabSize, EOT + 1);
  assert.equal(tok.padId, EOT + 1);
});

test('a missing folder or broken config is an InvalidArgumentError', () => {
  assert.throws(() => loadHfTokenizer(path.join(os.tmpdir(), 'showo-no-such-tokenizer')), InvalidArgumentError);
  assert.throws(() => new HfTextTokenizer(tokenizerJson(), { bos_token: '<|nope|>' }), InvalidArgumentError);
});

import fs from 'node:fs';
import { InvalidArgumentError, writeFileAtomic } from '@showo/runtime';
import { UnknownWordError } from '../errors.js';
import type { DecodeOptions, TextTokenizer } from '../types.js';

/** Text of the word tokenizer's BOS = EOS token (named after Phi's, whose role it plays). */
export const ENDOFTEXT_TOKEN = '<|endoftext|>';
/** Text of the word tokenizer's unknown-word token. */
export const UNK_TOKEN = '<unk>';
/** Punctuation that the word tokenizer splits off as tokens of their own. */
export const WORD_PUNCTUATION: readonly string[] = ['?', '.', ':', ','];

const PUNCTUATION = new Set(WORD_PUNCTUATION);

/**
 * Splits text into word tokens: on runs of whitespace, with each of `? . : ,` a token of its own.
 * `"step 1: place a red circle."` → `step 1 : place a red circle .`
 */
export function splitWords(text: string): string[] {
  const out: string[] = [];
  for (const chunk of text.split(/\s+/)) {
    let word = '';
    for (const ch of chunk) {
      if (PUNCTUATION.has(ch)) {
        if (word) out.push(word);
        out.push(ch);
        word = '';
      } else {
        word += ch;
      }
    }
    if (word) out.push(word);
  }
  return out;
}

/**
 * Inverse of {@link splitWords} on text in normal form: tokens joined by single spaces, except that punctuation
 * attaches to what precedes it. `step 1 : place a red circle .` → `"step 1: place a red circle."`
 */
export function joinWords(tokens: readonly string[]): string {
  let text = '';
  for (const token of tokens) {
    if (text.length > 0 && !PUNCTUATION.has(token)) text += ' ';
    text += token;
  }
  return text;
}

/**
 * Builds a word-tokenizer vocabulary (id → token list) from words or whole sentences: every entry is split with
 * {@link splitWords}, the four punctuation marks are always included, tokens are de-duplicated and sorted (so the
 * ids do not depend on the order the words came in), and `<unk>` and `<|endoftext|>` are appended last — so
 * `<|endoftext|>` is the last text id, as BOS = EOS = 199 is in the reference model.
 */
export function buildWordVocabulary(words: Iterable<string>): string[] {
  const set = new Set<string>(WORD_PUNCTUATION);
  for (const entry of words) for (const token of splitWords(entry)) set.add(token);
  set.delete(UNK_TOKEN);
  set.delete(ENDOFTEXT_TOKEN);
  const sorted = [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return [...sorted, UNK_TOKEN, ENDOFTEXT_TOKEN];
}

/** Options of {@link WordTokenizer}. */
export interface WordTokenizerOptions {
  /**
   * Strict mode: a word outside the vocabulary throws {@link UnknownWordError} naming it. Otherwise (default) it
   * becomes `<unk>` — never silently dropped, and visible as `<unk>` when decoded.
   */
  strict?: boolean;
}

/**
 * A word-level tokenizer for the embedded model, lossless on the Shapes World language.
 *
 * Ids are the positions in the vocabulary list (see {@link buildWordVocabulary}). The list must contain
 * `<|endoftext|>` (BOS = EOS, as in Phi) and `<unk>` once each. Encoding splits on whitespace and splits off
 * `? . : ,`; decoding joins with single spaces and no space before punctuation, so `decode(encode(s)) === s` for
 * every text in that normal form whose words are all known. Matching is case-sensitive (the Shapes World language
 * is lower case).
 */
export class WordTokenizer implements TextTokenizer {
  readonly vocabulary: readonly string[];
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;
  /** None: like Phi's, this tokenizer has no padding token (Show-o adds `[PAD]` after the text vocabulary). */
  readonly padId?: number;
  readonly vocabSize: number;
  readonly specialTokens: Readonly<Record<string, number>>;
  readonly strict: boolean;
  private readonly ids: Map<string, number>;

  constructor(vocabulary: readonly string[], options: WordTokenizerOptions = {}) {
    if (!Array.isArray(vocabulary) || vocabulary.length === 0) throw new InvalidArgumentError('word vocabulary must be a non-empty list of strings');
    const ids = new Map<string, number>();
    vocabulary.forEach((token, id) => {
      if (typeof token !== 'string' || token.length === 0) throw new InvalidArgumentError(`word vocabulary entry ${id} is not a non-empty string`);
      const parts = splitWords(token);
      if (parts.length !== 1 || parts[0] !== token) {
        throw new InvalidArgumentError(`word vocabulary entry ${id} ("${token}") is not a single token (no whitespace; punctuation ? . : , alone)`);
      }
      if (ids.has(token)) throw new InvalidArgumentError(`word vocabulary lists "${token}" twice (ids ${ids.get(token)} and ${id})`);
      ids.set(token, id);
    });
    const eot = ids.get(ENDOFTEXT_TOKEN);
    const unk = ids.get(UNK_TOKEN);
    if (eot === undefined || unk === undefined) {
      throw new InvalidArgumentError(`word vocabulary must contain ${ENDOFTEXT_TOKEN} and ${UNK_TOKEN} (build it with buildWordVocabulary)`);
    }
    this.vocabulary = Object.freeze([...vocabulary]);
    this.ids = ids;
    this.bosId = eot;
    this.eosId = eot;
    this.unkId = unk;
    this.vocabSize = vocabulary.length;
    this.specialTokens = Object.freeze({ [ENDOFTEXT_TOKEN]: eot, [UNK_TOKEN]: unk });
    this.strict = options.strict ?? false;
  }

  /** The same vocabulary with strict mode switched on or off. */
  withStrict(strict: boolean): WordTokenizer {
    return new WordTokenizer(this.vocabulary, { strict });
  }

  /** Text → word tokens (no ids), see {@link splitWords}. */
  tokenize(text: string): string[] {
    return splitWords(text);
  }

  /** Text → ids. Unknown words become `<unk>`, or throw {@link UnknownWordError} in strict mode. */
  encode(text: string): number[] {
    return splitWords(text).map((word) => {
      const id = this.ids.get(word);
      if (id !== undefined) return id;
      if (this.strict) throw new UnknownWordError(word, text);
      return this.unkId;
    });
  }

  /**
   * Ids → text in normal form. Throws {@link @showo/runtime!InvalidArgumentError | InvalidArgumentError} for an id
   * outside the vocabulary.
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const tokens: string[] = [];
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new InvalidArgumentError(`id ${id} is not a word-tokenizer id (0..${this.vocabSize - 1})`);
      }
      if (options.skipSpecialTokens && (id === this.bosId || id === this.unkId)) continue;
      tokens.push(this.vocabulary[id]!);
    }
    return joinWords(tokens);
  }

  /** Id of a token, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** Token text of an id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.vocabulary[id];
  }

  /** The vocabulary file's content: the id → token list. */
  toJSON(): string[] {
    return [...this.vocabulary];
  }
}

/** Reads a vocabulary file (a JSON list of tokens, id = position) into a {@link WordTokenizer}. */
export function loadWordTokenizer(file: string, options: WordTokenizerOptions = {}): WordTokenizer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new InvalidArgumentError(`cannot read word vocabulary ${file}: ${(cause as Error).message}`, { cause });
  }
  if (!Array.isArray(parsed)) throw new InvalidArgumentError(`word vocabulary ${file} is not a JSON list of words`);
  return new WordTokenizer(parsed as string[], options);
}

/** Writes a vocabulary (id → token list) as the JSON file {@link loadWordTokenizer} reads (atomically). */
export function saveWordVocabulary(file: string, vocabulary: readonly string[]): void {
  new WordTokenizer(vocabulary); // refuse to write a vocabulary that could not be loaded back
  writeFileAtomic(file, JSON.stringify(vocabulary) + '\n');
}

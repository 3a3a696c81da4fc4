import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { InvalidArgumentError } from '@showo/runtime';
import { OFFICIAL_SPECIAL_TOKENS } from '../constants.js';
import type { DecodeOptions, TextTokenizer } from '../types.js';

type TokenSpec = string | { content?: string } | null | undefined;

function tokenText(spec: TokenSpec): string | undefined {
  if (typeof spec === 'string') return spec;
  if (spec && typeof spec === 'object' && typeof spec.content === 'string') return spec.content;
  return undefined;
}

/**
 * A Hugging Face tokenizer (`tokenizer.json` + `tokenizer_config.json`) run by `@huggingface/tokenizers`;
 * for Show-o, Phi-1.5's CodeGen/GPT-2 byte-level BPE tokenizer.
 *
 * `encode` returns exactly what `tokenizer(text)['input_ids']` returns in Python (Phi's post-processor adds no
 * BOS). BOS/EOS/PAD come from `tokenizer_config.json` (`bos_token`, … as a string or `{content}`), falling back
 * to `<|endoftext|>`. `vocabSize` is `len(tokenizer)` — one past the largest id of the vocabulary and its added
 * tokens — leaving out Show-o's own tokens (`[PAD]`, `<|soi|>`, …) should the folder already contain them, so
 * that it is the `llm_vocab_size` the token layout starts from (50295 for Phi-1.5).
 */
export class HfTextTokenizer implements TextTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId?: number;
  readonly vocabSize: number;
  readonly specialTokens: Readonly<Record<string, number>>;
  private readonly tokenizer: Tokenizer;

  constructor(tokenizerJson: object, tokenizerConfig: object = {}) {
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (cause) {
      throw new InvalidArgumentError(`not a usable tokenizer.json: ${(cause as Error).message}`, { cause });
    }
    const config = tokenizerConfig as Record<string, TokenSpec>;
    const idOf = (name: string, spec: TokenSpec, fallback?: string): number | undefined => {
      const text = tokenText(spec) ?? fallback;
      if (text === undefined) return undefined;
      const id = this.tokenizer.token_to_id(text);
      if (id === undefined) throw new InvalidArgumentError(`tokenizer_config ${name} "${text}" is not in the tokenizer's vocabulary`);
      return id;
    };
    const bos = idOf('bos_token', config.bos_token, '<|endoftext|>');
    const eos = idOf('eos_token', config.eos_token, '<|endoftext|>');
    if (bos === undefined || eos === undefined) throw new InvalidArgumentError('tokenizer has no BOS/EOS token');
    this.bosId = bos;
    this.eosId = eos;
    const pad = idOf('pad_token', config.pad_token);
    if (pad !== undefined) this.padId = pad;

    const showoTokens = new Set<string>(OFFICIAL_SPECIAL_TOKENS);
    let maxId = -1;
    for (const [token, id] of this.tokenizer.get_vocab(true)) {
      if (!showoTokens.has(token) && id > maxId) maxId = id;
    }
    this.vocabSize = maxId + 1;
    const specials: Record<string, number> = {};
    for (const [id, added] of this.tokenizer.get_added_tokens_decoder()) {
      if (added.special && !showoTokens.has(added.content)) specials[added.content] = id;
    }
    this.specialTokens = Object.freeze(specials);
  }

  encode(text: string): number[] {
    return [...this.tokenizer.encode(text).ids];
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    if (ids.length === 0) return '';
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || this.tokenizer.id_to_token(id) === undefined) {
        throw new InvalidArgumentError(`id ${id} is not a text id of this tokenizer`);
      }
    }
    return this.tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** The token text of an id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }

  /** The id of a token text, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }
}

/**
 * Loads a tokenizer from a local Hugging Face folder holding `tokenizer.json` and (optionally)
 * `tokenizer_config.json`, e.g. a download of `microsoft/phi-1_5`.
 */
export function loadHfTokenizer(dir: string): HfTextTokenizer {
  const read = (name: string, required: boolean): object | undefined => {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) {
      if (required) throw new InvalidArgumentError(`${file} not found (expected a Hugging Face tokenizer folder)`);
      return undefined;
    }
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as object;
    } catch (cause) {
      throw new InvalidArgumentError(`cannot parse ${file}: ${(cause as Error).message}`, { cause });
    }
  };
  return new HfTextTokenizer(read('tokenizer.json', true)!, read('tokenizer_config.json', false) ?? {});
}

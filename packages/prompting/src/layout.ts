import { InvalidArgumentError } from '@showo/runtime';
import { MASK_TOKEN, NUM_OFFICIAL_SPECIAL_TOKENS, OFFICIAL_SPECIAL_TOKENS, type OfficialSpecialToken } from './constants.js';
import { UnknownSpecialTokenError } from './errors.js';

/** Options of {@link TokenLayout}. */
export interface TokenLayoutOptions {
  /** Size of the text vocabulary (`llm_vocab_size`, `len(tokenizer)` before Show-o adds its tokens). */
  llmVocabSize: number;
  /** Number of image codes K (`codebook_size`). */
  codebookSize: number;
  /** The text tokenizer's BOS (`<|sot|>`). */
  bosId: number;
  /** The text tokenizer's EOS (`<|eot|>`); default {@link bosId}. */
  eosId?: number;
  /**
   * `num_new_special_tokens`: ids between the text vocabulary and the codebook (default and minimum 10, the
   * official tokens). The image offset is `llmVocabSize + numNewSpecialTokens`.
   */
  numNewSpecialTokens?: number;
  /** The checkpoint's `vocab_size`, checked against `llm + new specials + codebook + 1` when given. */
  vocabSize?: number;
  /** Plugin task tokens already in the checkpoint, in the order they were registered (ids `vocabSize`, `+1`, …). */
  pluginTokens?: readonly string[];
}

/** The Show-o section of a model config (the official `config.model.showo` names). */
export interface ShowoVocabConfig {
  llm_vocab_size: number;
  codebook_size: number;
  num_new_special_tokens?: number;
  vocab_size?: number;
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got ${value}`);
}

/**
 * Where every token lives in Show-o's single vocabulary:
 *
 * | ids | tokens |
 * |---|---|
 * | `0 … llm−1` | text (BOS/EOS are text ids) |
 * | `llm … llm+9` | `[PAD] <\|soi\|> <\|eoi\|> <\|sov\|> <\|eov\|> <\|t2i\|> <\|mmu\|> <\|t2v\|> <\|v2v\|> <\|lvg\|>` |
 * | `off … off+K−1` | image codes, `off = llm + num_new_special_tokens` (`len(tokenizer)`) |
 * | `off+K` | `[MASK]` = base vocab size − 1 |
 * | `base …` | plugin task tokens, in order of registration |
 *
 * **Plugin tokens.** The official code would add a new token to the text tokenizer, i.e. at `len(tokenizer)`,
 * which is the image offset — that would shift every image id and `[MASK]` of an existing checkpoint. So plugin
 * tokens are instead appended *after* `[MASK]`: the model's embedding and output layers grow by one row per
 * token and keep all existing rows, exactly what `resize_token_embeddings` does. Consequently `maskId` stays at
 * `baseVocabSize − 1` and is no longer `vocabSize − 1` once plugins exist; a checkpoint that was trained with
 * plugin tokens records them (`pluginTokens`) so that their ids are reproduced in the same order.
 *
 * The layout is shared: adding a plugin token ({@link ensurePluginToken}, done by the task registry) grows
 * {@link vocabSize}, so register plugins before building a model from it.
 */
export class TokenLayout {
  readonly llmVocabSize: number;
  readonly codebookSize: number;
  readonly numNewSpecialTokens: number;
  readonly bosId: number;
  readonly eosId: number;
  /** Id of image code 0 (`len(tokenizer)` in the official code). */
  readonly imageOffset: number;
  /** `vocab_size` of the official model: text + new specials + codebook + `[MASK]`. */
  readonly baseVocabSize: number;
  /** `[MASK]` (`mask_token_id`). */
  readonly maskId: number;
  /** `[PAD]`. */
  readonly padId: number;
  private readonly plugins: string[] = [];

  constructor(options: TokenLayoutOptions) {
    checkCount('llmVocabSize', options.llmVocabSize, 1);
    checkCount('codebookSize', options.codebookSize, 1);
    const nnst = options.numNewSpecialTokens ?? NUM_OFFICIAL_SPECIAL_TOKENS;
    checkCount('numNewSpecialTokens', nnst, NUM_OFFICIAL_SPECIAL_TOKENS);
    this.llmVocabSize = options.llmVocabSize;
    this.codebookSize = options.codebookSize;
    this.numNewSpecialTokens = nnst;
    for (const [name, id] of [['bosId', options.bosId], ['eosId', options.eosId ?? options.bosId]] as const) {
      if (!Number.isInteger(id) || id < 0 || id >= options.llmVocabSize) throw new InvalidArgumentError(`${name} ${id} is not a text id (0..${options.llmVocabSize - 1})`);
    }
    this.bosId = options.bosId;
    this.eosId = options.eosId ?? options.bosId;
    this.imageOffset = this.llmVocabSize + nnst;
    this.baseVocabSize = this.imageOffset + this.codebookSize + 1;
    if (options.vocabSize !== undefined && options.vocabSize !== this.baseVocabSize) {
      throw new InvalidArgumentError(
        `vocab_size ${options.vocabSize} does not match llm_vocab_size ${this.llmVocabSize} + ${nnst} new special tokens + codebook ${this.codebookSize} + 1 mask = ${this.baseVocabSize}`,
      );
    }
    this.maskId = this.baseVocabSize - 1;
    this.padId = this.llmVocabSize;
    for (const token of options.pluginTokens ?? []) this.ensurePluginToken(token);
  }

  /** Builds the layout from a Show-o model config section and the text tokenizer's BOS/EOS. */
  static fromShowoConfig(showo: ShowoVocabConfig, text: { bosId: number; eosId?: number }, pluginTokens?: readonly string[]): TokenLayout {
    return new TokenLayout({
      llmVocabSize: showo.llm_vocab_size,
      codebookSize: showo.codebook_size,
      ...(showo.num_new_special_tokens !== undefined ? { numNewSpecialTokens: showo.num_new_special_tokens } : {}),
      ...(showo.vocab_size !== undefined ? { vocabSize: showo.vocab_size } : {}),
      bosId: text.bosId,
      ...(text.eosId !== undefined ? { eosId: text.eosId } : {}),
      ...(pluginTokens ? { pluginTokens } : {}),
    });
  }

  /** The full vocabulary size, plugin tokens included (the number of embedding rows). */
  get vocabSize(): number {
    return this.baseVocabSize + this.plugins.length;
  }

  /** Plugin task tokens in id order. */
  get pluginTokens(): readonly string[] {
    return [...this.plugins];
  }

  /** Names {@link special} resolves: the official ten, `[MASK]`, the aliases and the plugin tokens. */
  specialNames(): string[] {
    return [...OFFICIAL_SPECIAL_TOKENS, MASK_TOKEN, '<|sot|>', '<|eot|>', '<|pad|>', ...this.plugins];
  }

  /**
   * Id of a special token by name: one of the official ten, `[MASK]`, `<|sot|>`/`<|eot|>` (BOS/EOS),
   * `<|pad|>` (= `[PAD]`), or a plugin token. Throws
   * {@link @showo/prompting!UnknownSpecialTokenError | UnknownSpecialTokenError} otherwise.
   */
  special(name: OfficialSpecialToken | '[MASK]' | '<|sot|>' | '<|eot|>' | '<|pad|>' | (string & {})): number {
    const id = this.lookup(name);
    if (id === undefined) throw new UnknownSpecialTokenError(name, this.specialNames());
    return id;
  }

  /** Whether {@link special} knows the name. */
  hasSpecial(name: string): boolean {
    return this.lookup(name) !== undefined;
  }

  /** The special-token name of an id (official, `[MASK]` or plugin), or undefined for text and image ids. */
  specialName(id: number): string | undefined {
    if (id >= this.llmVocabSize && id < this.llmVocabSize + NUM_OFFICIAL_SPECIAL_TOKENS) return OFFICIAL_SPECIAL_TOKENS[id - this.llmVocabSize];
    if (id === this.maskId) return MASK_TOKEN;
    if (id >= this.baseVocabSize && id < this.vocabSize) return this.plugins[id - this.baseVocabSize];
    return undefined;
  }

  /** Image code (0 … K−1) → token id (`code + imageOffset`). */
  codeToId(code: number): number {
    if (!Number.isInteger(code) || code < 0 || code >= this.codebookSize) {
      throw new InvalidArgumentError(`image code ${code} is outside the codebook (0..${this.codebookSize - 1})`);
    }
    return code + this.imageOffset;
  }

  /** Image token id → code. Throws for ids that are not codebook ids (`[MASK]` included). */
  idToCode(id: number): number {
    if (!this.isImageId(id)) {
      throw new InvalidArgumentError(`id ${id} is not an image token id (${this.imageOffset}..${this.imageOffset + this.codebookSize - 1})`);
    }
    return id - this.imageOffset;
  }

  /** {@link codeToId} over a list. */
  codesToIds(codes: ArrayLike<number>): number[] {
    return Array.from(codes, (c) => this.codeToId(c));
  }

  /** {@link idToCode} over a list. */
  idsToCodes(ids: ArrayLike<number>): number[] {
    return Array.from(ids, (id) => this.idToCode(id));
  }

  /** Whether the id is a codebook (image) token. `[MASK]` is not. */
  isImageId(id: number): boolean {
    return Number.isInteger(id) && id >= this.imageOffset && id < this.imageOffset + this.codebookSize;
  }

  /** Whether the id may fill an image position: an image token or `[MASK]`. */
  isImageOrMaskId(id: number): boolean {
    return this.isImageId(id) || id === this.maskId;
  }

  /** Whether the id is a text id (`0 … llm−1`). */
  isTextId(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.llmVocabSize;
  }

  /**
   * Id of a plugin task token, appending it after the existing ids if it is new (see the class notes). Official
   * tokens and aliases cannot be plugin tokens.
   */
  ensurePluginToken(name: string): number {
    if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('a plugin token needs a non-empty name');
    const existing = this.plugins.indexOf(name);
    if (existing >= 0) return this.baseVocabSize + existing;
    if (this.lookup(name) !== undefined) throw new InvalidArgumentError(`${name} is an official Show-o token, not a plugin token`);
    this.plugins.push(name);
    return this.baseVocabSize + this.plugins.length - 1;
  }

  /** Whether a plugin token of that name exists. */
  hasPluginToken(name: string): boolean {
    return this.plugins.includes(name);
  }

  /** The layout in the form of the reference `config.json` → `token_ids` (plus the plugin tokens). */
  tokenIds(): Record<string, number | [number, number]> {
    const out: Record<string, number | [number, number]> = {
      text: [0, this.llmVocabSize - 1],
      'bos(<|sot|>)': this.bosId,
      'eos(<|eot|>)': this.eosId,
    };
    OFFICIAL_SPECIAL_TOKENS.forEach((name, i) => (out[name] = this.llmVocabSize + i));
    out.image_codebook_first = this.imageOffset;
    out.image_codebook_last = this.imageOffset + this.codebookSize - 1;
    out['image_token_offset(len(tokenizer))'] = this.imageOffset;
    out.mask_token_id = this.maskId;
    this.plugins.forEach((name, i) => (out[name] = this.baseVocabSize + i));
    return out;
  }

  private lookup(name: string): number | undefined {
    const i = (OFFICIAL_SPECIAL_TOKENS as readonly string[]).indexOf(name);
    if (i >= 0) return this.llmVocabSize + i;
    switch (name) {
      case MASK_TOKEN:
        return this.maskId;
      case '<|sot|>':
        return this.bosId;
      case '<|eot|>':
        return this.eosId;
      case '<|pad|>':
        return this.padId;
    }
    const p = this.plugins.indexOf(name);
    return p >= 0 ? this.baseVocabSize + p : undefined;
  }
}

/**
 * A text tokenizer as Show-o's prompting sees it: text in, ids out, plus the few ids the prompt formats need.
 *
 * Like Phi's tokenizer, implementations add no BOS/EOS in {@link TextTokenizer.encode}; the prompt builders add
 * them where the official format wants them.
 */
export interface TextTokenizer {
  /** Text → ids. Adds no BOS or EOS. */
  encode(text: string): number[];
  /** Ids → text. With `skipSpecialTokens` (default false) special tokens such as `<|endoftext|>` are left out. */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** Id of the beginning-of-text token (`<|sot|>` in Show-o's prompts). */
  readonly bosId: number;
  /** Id of the end-of-text token (`<|eot|>`). For Phi and the word tokenizer this equals {@link bosId}. */
  readonly eosId: number;
  /** Id of a padding token inside the text vocabulary, when the tokenizer has one (Phi has none; Show-o adds `[PAD]`). */
  readonly padId?: number;
  /** Number of text ids (`llm_vocab_size`): every id the tokenizer can produce is below this. */
  readonly vocabSize: number;
  /** The tokenizer's own special tokens by their text, e.g. `{ '<|endoftext|>': 50256 }`. */
  readonly specialTokens: Readonly<Record<string, number>>;
}

/** Options of {@link TextTokenizer.decode}. */
export interface DecodeOptions {
  /** Leave special tokens (BOS/EOS, `<unk>`, …) out of the text. Default false, as in Hugging Face. */
  skipSpecialTokens?: boolean;
}

/**
 * One run of positions for the general omni-attention mask builder (structurally the same type as
 * `Segment` in `@showo/omni-attention`; the two packages sit on the same layer and do not import each other).
 *
 * - `text`: causal.
 * - `image`: a block read as a whole: bidirectional inside itself, and it sees everything before it.
 * - `pad`: padding; how it attends and is attended is the mask's pad policy.
 */
export interface Segment {
  kind: 'text' | 'image' | 'pad';
  length: number;
}

/**
 * How padding behaves in the general mask builder: `isolate` (nothing else attends to a pad; a pad attends
 * causally only within its own run, like the official t2i mask with `rm_pad_in_image=True`), or `attend` (pads
 * behave as causal text, like the official lm and mmu masks).
 */
export type PadPolicy = 'isolate' | 'attend';

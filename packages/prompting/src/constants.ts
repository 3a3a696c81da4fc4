/**
 * The ten tokens Show-o adds after the text vocabulary, in the official order: `[PAD]` first (via
 * `add_special_tokens({'pad_token': '[PAD]'})`), then the nine of `UniversalPrompting`'s `special_tokens`.
 */
export const OFFICIAL_SPECIAL_TOKENS = [
  '[PAD]',
  '<|soi|>',
  '<|eoi|>',
  '<|sov|>',
  '<|eov|>',
  '<|t2i|>',
  '<|mmu|>',
  '<|t2v|>',
  '<|v2v|>',
  '<|lvg|>',
] as const;

/** One of {@link OFFICIAL_SPECIAL_TOKENS}. */
export type OfficialSpecialToken = (typeof OFFICIAL_SPECIAL_TOKENS)[number];

/** Name of the mask token (`mask_token_id = vocab_size - 1`). */
export const MASK_TOKEN = '[MASK]';

/** Label value ignored by the cross-entropy (`ignore_id`). */
export const IGNORE_ID = -100;

/** Show-o's official number of added special tokens (`num_new_special_tokens`). */
export const NUM_OFFICIAL_SPECIAL_TOKENS = OFFICIAL_SPECIAL_TOKENS.length;

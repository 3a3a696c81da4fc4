import { TokenLayout } from '@showo/prompting';
import type { ShowoConfig } from './config.js';
import { ShowoConfigError } from './errors.js';

/**
 * The token layout (`TokenLayout` of `@showo/prompting`) of a model config: text ids, `[PAD]` and the Show-o
 * specials in official order, image code ↔ id, `[MASK]`, and any plugin task tokens the checkpoint was grown
 * with (pass them in the order they were added; they sit after `[MASK]`). The text tokenizer supplies BOS/EOS
 * (Phi-1.5: 50256 for both). Throws {@link ShowoConfigError} when the layout does not cover `vocab_size` exactly.
 */
export function tokenLayoutFor(config: ShowoConfig, text: { bosId: number; eosId?: number }, pluginTokens: readonly string[] = []): TokenLayout {
  const layout = TokenLayout.fromShowoConfig(
    { llm_vocab_size: config.llm_vocab_size, codebook_size: config.codebook_size, num_new_special_tokens: config.num_new_special_tokens },
    text,
    pluginTokens,
  );
  if (layout.vocabSize !== config.vocab_size) {
    throw new ShowoConfigError([
      `vocab_size ${config.vocab_size} ≠ ${layout.baseVocabSize} (text ${config.llm_vocab_size} + ${config.num_new_special_tokens} specials + ` +
        `${config.codebook_size} codes + [MASK]) + ${pluginTokens.length} plugin token(s)` +
        (config.vocab_size > layout.vocabSize ? `: name the ${config.vocab_size - layout.vocabSize} missing plugin token(s)` : ''),
    ]);
  }
  return layout;
}

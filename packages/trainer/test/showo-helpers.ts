/** A tiny embedded Show-o (word tokenizer, palette patch codes) for the trainer's Show-o tests. */
import { TokenLayout, UniversalPrompting, WordTokenizer, buildWordVocabulary } from '@showo/prompting';
import { vocabularyWords } from '@showo/shapes-world';
import { ShowoModel, type ShowoConfig } from '@showo/showo-core';
import { PatchPaletteEncoder } from '@showo/trainer';

export function tinySetup(options: { patch?: number; msl?: number; hidden?: number } = {}) {
  const tokenizer = new WordTokenizer(buildWordVocabulary(vocabularyWords()));
  const encoder = new PatchPaletteEncoder(64, options.patch ?? 16);
  const layout = new TokenLayout({ llmVocabSize: tokenizer.vocabSize, codebookSize: encoder.codebookSize, bosId: tokenizer.bosId });
  const msl = options.msl ?? 24;
  const prompting = new UniversalPrompting(layout, { maxSeqLength: msl, numVqTokens: encoder.tokensPerImage }, tokenizer);
  const config: ShowoConfig = {
    vocab_size: layout.vocabSize,
    llm_vocab_size: layout.llmVocabSize,
    num_new_special_tokens: 10,
    codebook_size: layout.codebookSize,
    num_vq_tokens: encoder.tokensPerImage,
    hidden_size: options.hidden ?? 32,
    intermediate_size: 2 * (options.hidden ?? 32),
    num_hidden_layers: 1,
    num_attention_heads: 2,
    partial_rotary_factor: 0.5,
    qk_layernorm: true,
    layer_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 512,
    max_seq_length: msl,
  };
  return { tokenizer, encoder, layout, prompting, config, model: (seed = 0) => ShowoModel.random(config, seed) };
}

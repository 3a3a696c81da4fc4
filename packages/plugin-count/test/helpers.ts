/** A tiny Shapes World Show-o (word tokenizer, palette patch codes, random weights) for the plugin's tests. */
import { initBackend } from '@showo/runtime';
import { TaskRegistry, TokenLayout, UniversalPrompting, WordTokenizer, buildWordVocabulary } from '@showo/prompting';
import { vocabularyWords } from '@showo/shapes-world';
import { ShowoModel, type ShowoConfig } from '@showo/showo-core';
import { PatchPaletteEncoder } from '@showo/trainer';

export async function tinyWorld(seed = 0) {
  await initBackend('wasm');
  const tokenizer = new WordTokenizer(buildWordVocabulary(vocabularyWords()));
  const encoder = new PatchPaletteEncoder(64, 16); // 4×4 = 16 codes per image, 7 palette codes
  const layout = new TokenLayout({ llmVocabSize: tokenizer.vocabSize, codebookSize: encoder.codebookSize, bosId: tokenizer.bosId });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: 16, numVqTokens: encoder.tokensPerImage }, tokenizer);
  const registry = new TaskRegistry(prompting);
  // The checkpoint a plugin meets: the base vocabulary, no plugin rows yet.
  const config: ShowoConfig = {
    vocab_size: layout.baseVocabSize,
    llm_vocab_size: layout.llmVocabSize,
    num_new_special_tokens: 10,
    codebook_size: layout.codebookSize,
    num_vq_tokens: encoder.tokensPerImage,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    partial_rotary_factor: 0.5,
    qk_layernorm: true,
    layer_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 128,
    max_seq_length: 16,
  };
  return { tokenizer, encoder, layout, prompting, registry, config, model: ShowoModel.random(config, seed) };
}

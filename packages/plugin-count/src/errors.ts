import { ShowoError } from '@showo/runtime';

/**
 * A model's vocabulary does not match the plugins registered on the token layout: the checkpoint has more or
 * fewer rows than `base vocabulary + plugin tokens`, or it was fine-tuned with other plugin tokens (or the same
 * ones in another order), so the plugin's token id would read another token's embedding.
 */
export class PluginVocabularyMismatchError extends ShowoError {
  constructor(
    readonly expected: { vocabSize: number; pluginTokens: readonly string[] },
    readonly actual: { vocabSize: number; pluginTokens?: readonly string[] },
    detail: string,
  ) {
    super(
      'PLUGIN_VOCABULARY_MISMATCH',
      `the model's vocabulary (${actual.vocabSize} rows${actual.pluginTokens ? `, plugin tokens [${actual.pluginTokens.join(', ')}]` : ''}) does not match ` +
        `the registered plugins (${expected.vocabSize} rows, plugin tokens [${expected.pluginTokens.join(', ')}]): ${detail}`,
    );
  }
}

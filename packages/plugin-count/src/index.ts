/** @packageDocumentation
 * A task plugin outside core: `<|count|>` — given a Shapes World image, answer how many objects it holds.
 *
 * - The task ({@link countTask}, {@link registerCountTask}): a new task token appended after `[MASK]`, its prompt
 *   format (`<|count|> <|soi|> image <|eoi|> BOS answer EOS`) and attention rule ({@link COUNT_ATTENTION}),
 *   registered on `@showo/prompting`'s `TaskRegistry` (`TaskAlreadyRegisteredError` when taken).
 * - The vocabulary ({@link attachPlugins}, {@link savePluginModel}, `plugins.json`): the model grows one
 *   embedding / lm_head row per plugin token (`ShowoModel.resizeVocab`, existing rows kept); a checkpoint whose
 *   vocabulary does not match the registered plugins is a {@link PluginVocabularyMismatchError}.
 * - Fine-tuning ({@link fineTuneCount}, {@link CountTask}, {@link ShapesWorldCountData}, {@link buildCountBatch})
 *   with `@showo/trainer`'s generic loop.
 * - The pipeline ({@link countObjects}): a cold stream of typed events over the sampler's decoding stream.
 * - {@link PLUGIN_COUNT_TYPES} / {@link countPluginModule}: dependency injection.
 */
export * from './constants.js';
export * from './errors.js';
export * from './task.js';
export * from './vocabulary.js';
export * from './training.js';
export * from './pipeline.js';
export * from './di.js';

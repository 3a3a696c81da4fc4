/**
 * Plugin tokens and the model's vocabulary: a plugin token has an id after `[MASK]` (`@showo/prompting`'s
 * `TokenLayout`), so the model's embedding and lm_head need one more row per plugin token. New rows are added with
 * `ShowoModel.resizeVocab` (every existing row kept); a checkpoint fine-tuned with plugins records their tokens in
 * `plugins.json`, so loading it with other plugins registered is refused instead of silently mixing rows up.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, writeFileAtomic } from '@showo/runtime';
import type { TokenLayout } from '@showo/prompting';
import type { NormalSource, ShowoModel } from '@showo/showo-core';
import { PLUGIN_MANIFEST_FILE } from './constants.js';
import { PluginVocabularyMismatchError } from './errors.js';

/** The plugin tokens of a layout, in id order (the order they were registered). */
export function pluginTokensOf(layout: TokenLayout): string[] {
  const out: string[] = [];
  for (let id = layout.baseVocabSize; id < layout.vocabSize; id++) out.push(layout.specialName(id)!);
  return out;
}

/** The plugin tokens a checkpoint folder records (`plugins.json`), or undefined when it records none. */
export function readPluginManifest(dir: string): string[] | undefined {
  const file = path.join(dir, PLUGIN_MANIFEST_FILE);
  if (!fs.existsSync(file)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new InvalidArgumentError(`${file} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  const tokens = (json as { pluginTokens?: unknown }).pluginTokens;
  if (!Array.isArray(tokens) || tokens.some((t) => typeof t !== 'string')) throw new InvalidArgumentError(`${file}: "pluginTokens" must be a list of token names`);
  return tokens as string[];
}

/** Records the layout's plugin tokens in `<dir>/plugins.json` (atomically). */
export function writePluginManifest(dir: string, layout: TokenLayout): void {
  writeFileAtomic(path.join(dir, PLUGIN_MANIFEST_FILE), JSON.stringify({ pluginTokens: pluginTokensOf(layout) }, null, 2) + '\n');
}

/** Options of {@link attachPlugins}. */
export interface AttachPluginsOptions {
  /** The plugin tokens the checkpoint was fine-tuned with ({@link readPluginManifest}); absent: unknown. */
  recorded?: readonly string[];
  /** Draws the new embedding / lm_head rows (N(0, 0.02²)); required when rows must be added. */
  rng?: NormalSource;
  /** Add missing rows (default true); false: a model without the plugin's rows is a mismatch. */
  grow?: boolean;
}

/**
 * Makes a model's vocabulary fit the plugins registered on `layout`:
 * - the model already has every plugin row (and, when `recorded` is known, the same tokens in the same order): ok;
 * - the model has the base vocabulary, or the rows of a prefix of the registered plugins: the missing rows are
 *   added with `resizeVocab` (existing rows kept; the optimiser must fetch the variables again) — unless
 *   `grow` is false;
 * - anything else — more rows than the layout, fewer than the base vocabulary, other recorded tokens: a
 *   {@link PluginVocabularyMismatchError}.
 * Returns the number of rows added.
 */
export function attachPlugins(model: ShowoModel, layout: TokenLayout, options: AttachPluginsOptions = {}): number {
  const expected = { vocabSize: layout.vocabSize, pluginTokens: pluginTokensOf(layout) };
  const have = model.config.vocab_size;
  const actual = { vocabSize: have, ...(options.recorded ? { pluginTokens: [...options.recorded] } : {}) };
  const base = layout.baseVocabSize;
  if (have < base) throw new PluginVocabularyMismatchError(expected, actual, `the model has fewer rows than the base vocabulary (${base})`);
  if (have > layout.vocabSize) throw new PluginVocabularyMismatchError(expected, actual, `the model has ${have - layout.vocabSize} row(s) for plugin tokens that are not registered`);
  const rowsHeld = have - base;
  if (options.recorded) {
    if (options.recorded.length !== rowsHeld) {
      throw new PluginVocabularyMismatchError(expected, actual, `the checkpoint records ${options.recorded.length} plugin token(s) but holds ${rowsHeld} plugin row(s)`);
    }
    const differs = options.recorded.findIndex((t, i) => expected.pluginTokens[i] !== t);
    if (differs >= 0) {
      throw new PluginVocabularyMismatchError(
        expected,
        actual,
        `row ${base + differs} was trained as ${options.recorded[differs]} but the layout gives that id to ${expected.pluginTokens[differs] ?? 'no token'}`,
      );
    }
  }
  const missing = layout.vocabSize - have;
  if (missing === 0) return 0;
  if (options.grow === false) throw new PluginVocabularyMismatchError(expected, actual, `${missing} plugin row(s) missing and growing is off`);
  if (!options.rng) throw new InvalidArgumentError('attachPlugins: a random source (rng) is needed to initialise the new rows');
  model.resizeVocab(layout.vocabSize, options.rng);
  return missing;
}

/** Saves a model fine-tuned with plugins: its checkpoint plus `plugins.json`. */
export async function savePluginModel(model: ShowoModel, dir: string, layout: TokenLayout): Promise<void> {
  if (model.config.vocab_size !== layout.vocabSize) {
    throw new PluginVocabularyMismatchError({ vocabSize: layout.vocabSize, pluginTokens: pluginTokensOf(layout) }, { vocabSize: model.config.vocab_size }, 'grow the model (attachPlugins) before saving');
  }
  await model.save(dir);
  writePluginManifest(dir, layout);
}

/** The plugin's task token. New to Show-o's vocabulary: it is appended after `[MASK]`. */
export const COUNT_TOKEN = '<|count|>';

/** The plugin's task name in the `TaskRegistry`. */
export const COUNT_TASK = 'count';

/** Answers are the count words of the Shapes World language (`one` … `three`), so one word plus `EOS`. */
export const COUNT_MAX_ANSWER_TOKENS = 2;

/** File a checkpoint folder records its plugin tokens in (next to `config.json`), in the order they were added. */
export const PLUGIN_MANIFEST_FILE = 'plugins.json';

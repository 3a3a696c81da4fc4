/**
 * The `<|count|>` task: its prompt format and its attention rule, registered on `@showo/prompting`'s
 * `TaskRegistry` like any builtin task.
 *
 * ```
 * <|count|> <|soi|> image <|eoi|> BOS answer EOS [PAD]*      answer: a count word ("one" … "three")
 * └──────── one bidirectional block ────┘ └─ causal text ─┘
 * ```
 *
 * The task token and the image are read as one block (as mmu reads `<|mmu|>` and its image), so every image
 * token knows which task it is serving; the answer is causal text after it.
 */
import { InvalidArgumentError } from '@showo/runtime';
import { describeSegments, type AttentionRule, type PromptBatch, type RegisteredTask, type TaskDefinition, type TaskRegistry, type TextInput } from '@showo/prompting';
import { COUNT_TASK, COUNT_TOKEN } from './constants.js';

/** Input of the count prompt builder. */
export interface CountInput {
  /** `[B][N]` image token ids (codes + the layout's image offset). */
  imageIds: readonly ArrayLike<number>[];
  /** Training: one answer per row (a count word, or its ids). Absent: the generation prompt, ending with `BOS`. */
  answers?: readonly TextInput[];
}

/** `<|count|>` + image one bidirectional block, then causal text; padding isolated. */
export const COUNT_ATTENTION: AttentionRule = {
  pad: 'isolate',
  segments: (ids, layout) => describeSegments(ids, layout, { bidirectionalPrefix: true }),
};

/**
 * The task definition. Generation rows (no answers) all have the same length, `N + 4`, so a batch needs no
 * padding; training rows are right-padded to the longest answer, with labels (unshifted, as the official mmu
 * labels: the answer ids and `EOS` at their own positions, the ignore id elsewhere).
 */
export const countTask: TaskDefinition<CountInput> = {
  name: COUNT_TASK,
  token: COUNT_TOKEN,
  description: 'count the objects of an image (answer: a count word)',
  attention: COUNT_ATTENTION,
  build(input, { prompting, layout, tokenId }): PromptBatch {
    const n = prompting.numVqTokens;
    if (input.imageIds.length === 0) throw new InvalidArgumentError('a count prompt needs at least one image');
    if (input.answers && input.answers.length !== input.imageIds.length) {
      throw new InvalidArgumentError(`${input.answers.length} answers for ${input.imageIds.length} images`);
    }
    const soi = layout.special('<|soi|>');
    const eoi = layout.special('<|eoi|>');
    const answers = input.answers ? prompting.encodeTexts(input.answers) : undefined;
    const rows = input.imageIds.map((image, row) => {
      if (image.length !== n) throw new InvalidArgumentError(`count image of batch row ${row} has ${image.length} tokens, expected ${n}`);
      const ids = Array.from(image);
      for (const id of ids) if (!layout.isImageId(id)) throw new InvalidArgumentError(`count image of batch row ${row} holds ${id}, not an image token id`);
      const head = [tokenId!, soi, ...ids, eoi, layout.bosId];
      if (!answers) return { ids: head, labels: undefined };
      const answer = [...answers[row]!, layout.eosId];
      return { ids: [...head, ...answer], labels: [...new Array<number>(head.length).fill(prompting.ignoreId), ...answer] };
    });
    const width = Math.max(...rows.map((r) => r.ids.length));
    const out: PromptBatch = { task: COUNT_TASK, inputIds: [], attentionMask: [], ...(answers ? { labels: [] } : {}) };
    for (const r of rows) {
      const pad = width - r.ids.length;
      const ids = [...r.ids, ...new Array<number>(pad).fill(layout.padId)];
      out.inputIds.push(ids);
      out.attentionMask.push(ids.map((id) => (id === layout.padId ? 0 : 1)));
      if (r.labels) out.labels!.push([...r.labels, ...new Array<number>(pad).fill(prompting.ignoreId)]);
    }
    return out;
  },
};

/**
 * Registers the count task on a registry (and so its token on the registry's token layout, after `[MASK]`).
 * Throws `TaskAlreadyRegisteredError` when `count` or `<|count|>` is already taken.
 */
export function registerCountTask(registry: TaskRegistry): RegisteredTask<CountInput> {
  return registry.register(countTask);
}

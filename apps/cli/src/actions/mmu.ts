import type { Command } from 'commander';
import { ShowoError } from '@showo/runtime';
import { parseMmuJsonl, renderScene, type MmuItem } from '@showo/shapes-world';
import type { Showo } from '@showo/showo';
import type { MmuFlags } from '../commands/mmu.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { batches, readImageFile, readJsonlFile, writeJsonlFile } from '../io.js';
import { withShowo } from '../model.js';
import { ProgressBar } from '../progress.js';

/** Answer options of the flags (greedy unless a temperature is given). */
function answerOptions(flags: Pick<MmuFlags, 'maxTokens' | 'temperature' | 'seed' | 'beams'>) {
  return {
    ...(flags.maxTokens !== undefined ? { maxNewTokens: flags.maxTokens } : {}),
    ...(flags.beams !== undefined ? { numBeams: flags.beams } : {}),
    ...(flags.temperature !== undefined ? { temperature: flags.temperature, greedy: flags.temperature === 0 } : {}),
    seed: flags.seed,
  };
}

/**
 * Answers every item's question about its scene, rendered by the SPEC's rules at the model's image size; a
 * progress bar counts answered questions. Shared by `mmu --questions` and `eval --mmu` without answers.
 */
export async function answerItems(ctx: CliContext, showo: Showo, items: readonly MmuItem[], flags: Pick<MmuFlags, 'batch' | 'maxTokens' | 'temperature' | 'seed' | 'beams'>): Promise<Map<string, string>> {
  const answers = new Map<string, string>();
  const bar = new ProgressBar('mmu', items.length, ctx.io.stderr);
  try {
    for (const group of batches(items, flags.batch)) {
      const size = showo.imageSize;
      const images = group.map((item) => ({ width: size, height: size, data: renderScene(item.scene, size) }));
      let tokens = 0;
      try {
        const texts = await showo.answer(images, group.map((i) => i.question), answerOptions(flags)).answers((e) => {
          if (e.type === 'token') bar.update(answers.size, `${++tokens} tokens`);
        });
        group.forEach((item, k) => answers.set(item.id, texts[k] ?? ''));
      } catch (e) {
        // A question the model cannot take (e.g. over its text budget) fails its batch, not the run.
        if (!(e instanceof ShowoError)) throw e;
        ctx.problem(`${group.map((i) => i.id).join(', ')}: ${e.message}`);
      }
      bar.update(answers.size);
    }
  } finally {
    bar.stop();
  }
  return answers;
}

/** The action of `showo mmu` (see `commands/mmu.ts`). */
export async function mmu(ctx: CliContext, cmd: Command, image: string | undefined, question: string | undefined, flags: MmuFlags): Promise<void> {
  if (flags.beams !== undefined && flags.beams > 1 && flags.temperature !== undefined && flags.temperature > 0) {
    throw new UsageError('--beams cannot be combined with --temperature above 0: beam search is deterministic', cmd);
  }
  if (flags.questions !== undefined) {
    if (image !== undefined) throw new UsageError('give either IMAGE "QUESTION" or --questions FILE, not both', cmd);
    const items = readJsonlFile(ctx, flags.questions, parseMmuJsonl, 'questions file');
    if (items.length === 0) {
      ctx.problem(`${flags.questions}: no questions to answer`);
      return;
    }
    const answers = await withShowo(ctx, flags, (showo) => answerItems(ctx, showo, items, flags));
    // Only answered items: one that failed was reported and is left out (it scores as no output).
    const lines = items.filter((i) => answers.has(i.id)).map((i) => ({ id: i.id, answer: answers.get(i.id)! }));
    if (flags.out) {
      writeJsonlFile(flags.out, lines);
      ctx.out(`wrote ${lines.length} answer(s) to ${flags.out}`);
    } else for (const l of lines) ctx.out(JSON.stringify(l));
    return;
  }
  if (image === undefined || question === undefined) throw new UsageError('give IMAGE and "QUESTION", or --questions FILE', cmd);
  const pixels = await readImageFile(image);
  const answer = await withShowo(ctx, flags, (showo) => {
    const bar = new ProgressBar('mmu', flags.maxTokens ?? showo.bundle.prompting.maxSeqLength, ctx.io.stderr);
    return showo
      .answer(pixels, question, answerOptions(flags))
      .answer((e) => e.type === 'token' && bar.update(e.tokens.length))
      .finally(() => bar.stop());
  });
  ctx.out(answer);
}

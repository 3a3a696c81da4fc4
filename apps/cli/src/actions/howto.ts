import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { evaluateHowto, parseHowtoJsonl, type HowtoItem } from '@showo/shapes-world';
import { SAMPLER_TYPES, type HowtoEvent, type HowtoResult, type PipelineOptions } from '@showo/sampler';
import { createShowo, writePngFile, type HowtoStream, type ModelBundle, type Showo } from '@showo/showo';
import type { HowtoFlags } from '../commands/howto.js';
import { modelRequest, samplingRequest, type CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { howtoHtml, storyboard, upscale } from '../howto-page.js';
import { readJsonlFile } from '../io.js';
import { resolveBundle } from '../model.js';
import { ProgressBar } from '../progress.js';

/** Runs a how-to stream with a progress bar over every keyframe's MaskGIT steps; resolves with the result. */
export async function runHowto(ctx: CliContext, stream: HowtoStream, onEvent?: (e: HowtoEvent) => void) {
  let bar: ProgressBar | undefined;
  let per = 1;
  try {
    return await stream.result((e: HowtoEvent) => {
      onEvent?.(e);
      if (e.type === 'start') {
        per = e.denoisingSteps;
        bar = new ProgressBar('howto', e.plannedSteps * per, ctx.io.stderr);
      } else if (e.type === 'denoise') bar?.update(e.step * per + e.denoise + 1, `step ${e.step + 1}`);
    });
  } finally {
    bar?.stop();
  }
}

/** Default tokens of a free-mode step text (the pipeline's default). */
const FREE_STEP_TOKENS = 24;

/**
 * Positions a how-to sequence can take: the t2i text block, every keyframe block and every later step's
 * `BOS text EOS` (free mode: the longest steps allowed, plus the end marker).
 */
function howtoPositions(bundle: ModelBundle, steps: readonly string[] | { maxSteps: number; maxStepTokens: number }): number {
  const mtl = bundle.prompting.maxSeqLength + 1;
  const block = bundle.prompting.numVqTokens + 2;
  if (!Array.isArray(steps)) {
    const free = steps as { maxSteps: number; maxStepTokens: number };
    return mtl + free.maxSteps * block + free.maxSteps * (free.maxStepTokens + 1) + 2;
  }
  const later = (steps as readonly string[]).slice(1).reduce((s, t) => s + bundle.text.tokenizer.encode(t).length + 2, 0);
  return mtl + steps.length * block + later;
}

/**
 * Loads the model with a position budget that fits the sequences asked for. How-to sequences are longer than any
 * other prompt (the embedded model is trained on them past its config's `max_position_embeddings`, which Phi's
 * rotary embedding allows), so the budget is raised to what they need, with a note on stderr.
 */
async function withHowtoShowo<T>(ctx: CliContext, flags: HowtoFlags, needed: (bundle: ModelBundle) => number, body: (showo: Showo) => Promise<T>): Promise<T> {
  const bundle = resolveBundle(flags);
  const declared = bundle.showo.config.max_position_embeddings;
  const maxPositions = Math.max(declared, flags.maxPositions ?? needed(bundle));
  if (maxPositions > declared) ctx.err(`note: how-to sequences up to ${maxPositions} positions (the model's config declares ${declared})`);
  const showo = await createShowo({
    model: bundle,
    ...modelRequest(flags),
    log: (l) => ctx.err(l),
    configure: (c) => {
      c.rebind<PipelineOptions>(SAMPLER_TYPES.PipelineOptions).toConstantValue({ grid: bundle.grid, maxPositions });
    },
  });
  try {
    return await body(showo);
  } finally {
    await showo.dispose();
  }
}

/** Writes `step-<n>.png` (n from 1) for every keyframe of a result; returns the file names (relative to `dir`). */
function writeSteps(dir: string, result: HowtoResult, scale = 1): (string | undefined)[] {
  fs.mkdirSync(dir, { recursive: true });
  return result.steps.map((s, k) => {
    if (!s.image) return undefined;
    const name = `step-${k + 1}.png`;
    writePngFile(path.join(dir, name), upscale(s.image, scale));
    return name;
  });
}

/** One question: free mode (or guided with `--step`): keyframes, a storyboard and an HTML page of the steps. */
async function oneSequence(ctx: CliContext, showo: Showo, question: string, flags: HowtoFlags, dir: string): Promise<void> {
  const request = {
    ...samplingRequest(flags),
    // Guided: an over-long `question + step 1` is cut to the text budget the way training cuts it.
    truncatePrompts: true,
    ...(flags.maxSteps !== undefined ? { maxSteps: flags.maxSteps } : {}),
    ...(flags.maxStepTokens !== undefined ? { maxStepTokens: flags.maxStepTokens } : {}),
  };
  let line = '';
  const result = await runHowto(ctx, showo.howto(question, flags.step, request), (e) => {
    // Free mode streams each step's text as the model writes it; show it as it grows.
    if (e.type === 'token' && e.text !== undefined) line = e.text;
    if (e.type === 'text') ctx.err(`step ${e.step + 1}: ${e.text ?? line}`);
  });
  const files = writeSteps(dir, result);
  const frames = result.steps.flatMap((s) => (s.image ? [s.image] : []));
  const board = frames.length ? 'storyboard.png' : undefined;
  if (board) writePngFile(path.join(dir, board), storyboard(frames, flags.scale));
  const page = path.join(dir, 'index.html');
  fs.writeFileSync(page, howtoHtml(question, result.steps.map((s, k) => ({ ...(s.text !== undefined ? { text: s.text } : {}), ...(files[k] ? { image: files[k] } : {}) })), board));
  result.steps.forEach((s, k) => ctx.out(`${s.text ?? `(step ${k + 1})`}  → ${files[k] ? path.join(dir, files[k]!) : '(no image)'}`));
  if (board) ctx.out(`storyboard → ${path.join(dir, board)}`);
  ctx.out(`page → ${page}  (${result.steps.length} step(s), ended: ${result.stopReason})`);
}

/** `--guided FILE.jsonl`: every item's keyframes as `<out>/<id>/step-<n>.png`, then the detector's verdict. */
async function guidedFile(ctx: CliContext, showo: Showo, items: readonly HowtoItem[], flags: HowtoFlags, dir: string): Promise<void> {
  const frames = new Map<string, Uint8Array[]>();
  const total = items.reduce((s, i) => s + i.steps.length, 0);
  let done = 0;
  const bar = new ProgressBar('howto', total, ctx.io.stderr);
  try {
    for (const item of items) {
      const result = await showo.howto(item.question, item.steps.map((s) => s.text), { ...samplingRequest(flags), truncatePrompts: true }).result((e) => {
        if (e.type === 'keyframe') bar.update(++done, item.id);
      });
      const safe = item.id.replace(/[^A-Za-z0-9._-]/g, '_');
      writeSteps(path.join(dir, safe), result);
      frames.set(item.id, result.steps.map((s) => (s.image ? Uint8Array.from(s.image.data) : new Uint8Array(0))));
    }
  } finally {
    bar.stop();
  }
  const r = evaluateHowto(items, (item) => frames.get(item.id));
  ctx.out(`wrote ${total} keyframe(s) of ${items.length} sequence(s) under ${dir}/<id>/step-<n>.png`);
  ctx.out(`detector: steps ${r.steps.passed}/${r.steps.total} (${(100 * r.steps.accuracy).toFixed(1)}%), sequences ${r.sequences.passed}/${r.sequences.total} (${(100 * r.sequences.accuracy).toFixed(1)}%)`);
}

/** The action of `showo howto` (see `commands/howto.ts`). */
export async function howto(ctx: CliContext, cmd: Command, question: string | undefined, flags: HowtoFlags): Promise<void> {
  const dir = flags.out ?? path.join('out', 'howto');
  if (flags.guided) {
    if (question !== undefined || flags.step) throw new UsageError('--guided FILE takes its questions and steps from the file: give no question or --step', cmd);
    let items = readJsonlFile(ctx, flags.guided, parseHowtoJsonl, 'how-to file');
    if (flags.limit !== undefined) items = items.slice(0, flags.limit);
    if (items.length === 0) throw new UsageError(`${flags.guided} holds no how-to item`, cmd);
    const needed = (b: ModelBundle) => Math.max(...items.map((i) => howtoPositions(b, i.steps.map((s) => s.text))));
    await withHowtoShowo(ctx, flags, needed, (showo) => guidedFile(ctx, showo, items, flags, dir));
    return;
  }
  if (question === undefined || question.trim() === '') throw new UsageError('give a question ("how do i build …?") or --guided FILE', cmd);
  const needed = (b: ModelBundle) =>
    flags.step ? howtoPositions(b, flags.step) : howtoPositions(b, { maxSteps: flags.maxSteps ?? 3, maxStepTokens: flags.maxStepTokens ?? FREE_STEP_TOKENS });
  await withHowtoShowo(ctx, flags, needed, (showo) => oneSequence(ctx, showo, question, flags, dir));
}

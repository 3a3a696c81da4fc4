import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { evaluateHowto, parseHowtoJsonl, type HowtoItem } from '@showo/shapes-world';
import { SAMPLER_TYPES, type HowtoEvent, type HowtoResult, type PipelineOptions, type RgbImage } from '@showo/sampler';
import { createShowo, writePngFile, type HowtoStream, type ModelBundle, type Showo } from '@showo/showo';
import { UsageError, commonOptions, parsers, samplingRequest, type CliContext, type ModelFlags, type SamplingFlags } from '../context.js';
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

interface HowtoFlags extends ModelFlags, SamplingFlags {
  guided?: string;
  step?: string[];
  out?: string;
  maxSteps?: number;
  maxStepTokens?: number;
  limit?: number;
  scale: number;
  maxPositions?: number;
}

/** Nearest-neighbour upscaling, so 64×64 keyframes stay crisp in a storyboard and a browser. */
function upscale(img: RgbImage, k: number): RgbImage {
  if (k === 1) return img;
  const w = img.width * k;
  const h = img.height * k;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (Math.floor(y / k) * img.width + Math.floor(x / k)) * 3;
      data[(y * w + x) * 3] = img.data[s]!;
      data[(y * w + x) * 3 + 1] = img.data[s + 1]!;
      data[(y * w + x) * 3 + 2] = img.data[s + 2]!;
    }
  }
  return { width: w, height: h, data };
}

/** Keyframes side by side on a light grey strip (each framed by a gap), one image. */
export function storyboard(frames: readonly RgbImage[], scale = 4, gap = 8): RgbImage {
  const big = frames.map((f) => upscale(f, scale));
  const fh = Math.max(1, ...big.map((f) => f.height));
  const width = gap + big.reduce((s, f) => s + f.width + gap, 0);
  const height = fh + 2 * gap;
  const data = new Uint8Array(width * height * 3).fill(224);
  let x0 = gap;
  for (const f of big) {
    for (let y = 0; y < f.height; y++) data.set(f.data.subarray(y * f.width * 3, (y + 1) * f.width * 3), ((gap + y) * width + x0) * 3);
    x0 += f.width + gap;
  }
  return { width, height, data };
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A self-contained page: the question, then each step's text beside its keyframe (files relative to the page). */
export function howtoHtml(question: string, steps: readonly { text?: string; image?: string }[], storyboardFile?: string): string {
  const rows = steps
    .map(
      (s, k) =>
        `  <li><figure>${s.image ? `<img src="${escapeHtml(s.image)}" alt="keyframe ${k + 1}" width="256" height="256">` : ''}` +
        `<figcaption>${escapeHtml(s.text ?? `step ${k + 1}`)}</figcaption></figure></li>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(question)}</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem; }
  ol { display: flex; gap: 1.5rem; list-style: none; padding: 0; flex-wrap: wrap; }
  img { image-rendering: pixelated; border: 1px solid #ccc; }
  figcaption { max-width: 256px; margin-top: .5rem; }
</style>
</head>
<body>
<h1>${escapeHtml(question)}</h1>
<ol>
${rows}
</ol>
${storyboardFile ? `<p><a href="${escapeHtml(storyboardFile)}">storyboard</a></p>\n` : ''}</body>
</html>
`;
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
    backend: flags.backend,
    seed: flags.seed,
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

/**
 * `showo howto "how do i build …?"` — free mode: the model writes the steps and draws each keyframe; writes
 * `step-<n>.png`, `storyboard.png` and `index.html` under `--out` (default `out/howto`). `--step TEXT…` gives the
 * step texts (guided). `showo howto --guided FILE.jsonl --out DIR` — guided mode over a how-to file:
 * `DIR/<id>/step-<n>.png` (n from 1) and the detector's step and sequence accuracy.
 */
export function howtoCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('howto')
    .description('draw a how-to sequence: free (the model writes the steps) or guided (step texts given, or a howto-*.jsonl file)')
    .argument('[question]', 'e.g. "how do i build a red circle and a blue square?"')
    .option('--guided <file>', 'guided mode over a how-to file (howto-*.jsonl): <out>/<id>/step-<n>.png')
    .option('--step <text...>', 'step texts in order (guided mode for one question)')
    .option('--max-steps <n>', 'free mode: most steps (default 3)', parsers.positiveInt('--max-steps'))
    .option('--max-step-tokens <n>', 'free mode: most tokens of one step text', parsers.positiveInt('--max-step-tokens'))
    .option('--limit <n>', 'with --guided: only the first n items', parsers.positiveInt('--limit'))
    .option('--scale <k>', 'storyboard upscaling factor', parsers.positiveInt('--scale'), 4)
    .option('--max-positions <n>', 'position budget of a sequence (default: what the sequences need, at least the config\'s)', parsers.positiveInt('--max-positions'))
    .option('--out <dir>', 'output folder (default out/howto)');
  commonOptions(cmd).action(async (question: string | undefined, flags: HowtoFlags) => {
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
  });
}

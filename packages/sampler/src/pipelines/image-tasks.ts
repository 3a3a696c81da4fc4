/**
 * The four image tasks on top of the MaskGIT scheduler. Each is a function `(deps, request) → Observable` that
 * validates everything synchronously (typed errors, before any tensor exists) and returns a cold stream of
 * {@link ImageGenerationEvent}s ending with the result.
 */
import type { Observable } from 'rxjs';
import { InvalidArgumentError, drawUniforms } from '@showo/runtime';
import type { TextInput } from '@showo/prompting';
import { MASKED } from '../constants.js';
import { ExtrapolationBudgetError, ImageSizeMismatchError, InvalidSamplingOptionError } from '../errors.js';
import type { ImageGenerationEvent, ImageTask } from '../events.js';
import type { MaskGitStepOutput } from '../maskgit.js';
import { generation, type GenerationContext } from '../stream.js';
import type { TextModel } from '../sessions.js';
import { scoreTexts } from './text.js';
import type { PixelMask, TokenGrid } from '../types.js';
import {
  buildWindow,
  checkImageInputs,
  decodeCodes,
  modelGrid,
  preparePrompts,
  resolveImageCodes,
  resolveMaskGitSettings,
  rowsOf,
  runMaskGitPass,
  usesCache,
  type ImageInput,
  type ImagePipelineDeps,
  type MaskGitRequestOptions,
  type MaskGitSettings,
} from './image-common.js';

type Ctx = GenerationContext<ImageGenerationEvent>;

/** A request for text-to-image generation. */
export interface TextToImageRequest extends MaskGitRequestOptions {
  /** One prompt per image (strings need the prompting's tokenizer; id lists are used as they are). */
  prompts: readonly TextInput[];
  /**
   * Best of N (default 1: off). N candidates are generated per prompt in one batch, and the one whose image the
   * model itself finds the prompt the likeliest caption of ({@link scoreTexts}) is kept — the unified model checks
   * its own drawing, as DALL·E reranked its samples with CLIP. Costs N× the generation plus one scoring pass.
   */
  rerank?: number;
}

/**
 * Runs a single-window MaskGIT generation from `initial` codes (MASKED where to generate) and emits step events
 * and the result. Shared by t2i, inpainting and editing.
 */
async function runSingleWindow(ctx: Ctx, task: ImageTask, deps: ImagePipelineDeps, settings: MaskGitSettings, texts: number[][], initial: Int32Array, grid: TokenGrid, truncate: boolean): Promise<void> {
  const codes = await denoiseWindow(ctx, task, deps, settings, texts, initial, grid, truncate);
  const images = settings.decode ? await decodeCodes(deps, codes, grid) : undefined;
  ctx.emit({ type: 'done', task, result: { codes, grid, ...(images ? { images } : {}) } });
}

/** The MaskGIT pass of a single window, with its step events; the final codes per row. */
async function denoiseWindow(ctx: Ctx, task: ImageTask, deps: ImagePipelineDeps, settings: MaskGitSettings, texts: number[][], initial: Int32Array, grid: TokenGrid, truncate: boolean): Promise<Int32Array[]> {
  const b = texts.length;
  const window = buildWindow(deps, texts, initial, settings.guidance, truncate);
  const out: MaskGitStepOutput = await runMaskGitPass(ctx, deps, settings, window, settings.scheduler.initialState(initial, b), async (o) => {
    ctx.emit(await stepEvent(deps, settings, task, o, 0, grid, o.state.codes, o.sampled, b));
  });
  return rowsOf(out.sampled, b);
}

async function stepEvent(
  deps: ImagePipelineDeps,
  settings: MaskGitSettings,
  task: ImageTask,
  o: MaskGitStepOutput,
  pass: number,
  grid: TokenGrid,
  tokensFlat: Int32Array,
  sampledFlat: Int32Array,
  batch: number,
): Promise<ImageGenerationEvent> {
  const tokens = rowsOf(tokensFlat, batch);
  const sampled = rowsOf(sampledFlat, batch);
  const numMasked = tokens.map((row) => row.reduce((n, c) => n + (c === MASKED ? 1 : 0), 0));
  const event: ImageGenerationEvent = {
    type: 'step',
    task,
    step: o.step,
    steps: settings.scheduler.steps,
    pass,
    ratio: o.ratio,
    maskRatio: o.maskRatio,
    temperature: o.temperature,
    tokens,
    sampled,
    numMasked,
    maskLen: Array.from(o.maskLen),
    grid,
  };
  if (settings.previewEvery && ((o.step + 1) % settings.previewEvery === 0 || o.done)) {
    const preview = await decodeCodes(deps, sampled, grid);
    if (preview) event.preview = preview;
  }
  return event;
}

/** Text-to-image: every token starts masked. */
export function textToImage(deps: ImagePipelineDeps, request: TextToImageRequest): Observable<ImageGenerationEvent> {
  const settings = resolveMaskGitSettings(deps, request);
  const grid = modelGrid(deps);
  const truncate = request.truncatePrompts ?? false;
  const texts = preparePrompts(deps, request.prompts, truncate);
  const n = deps.prompting.numVqTokens;
  const candidates = request.rerank ?? 1;
  if (!Number.isInteger(candidates) || candidates < 1) throw new InvalidSamplingOptionError('rerank', candidates, 'an integer ≥ 1 (candidates per prompt)');
  if (candidates > 1 && !isTextModel(deps.model)) throw new InvalidArgumentError('rerank needs a model that can also score text (a sequence model such as ShowoModel)');
  return generation<ImageGenerationEvent>(async (ctx) => {
    ctx.emit({ type: 'start', task: 't2i', batch: texts.length, steps: settings.scheduler.steps, passes: 1, grid, cached: usesCache(deps), ...(candidates > 1 ? { candidates } : {}) });
    await ctx.yield();
    if (candidates === 1) {
      await runSingleWindow(ctx, 't2i', deps, settings, texts, new Int32Array(texts.length * n).fill(MASKED), grid, truncate);
      return;
    }
    // Candidates of a prompt are adjacent rows of one batch: [p0 c0, p0 c1, …, p1 c0, …].
    const rows = texts.flatMap((t) => new Array<number[]>(candidates).fill(t));
    const all = await denoiseWindow(ctx, 't2i', deps, settings, rows, new Int32Array(rows.length * n).fill(MASKED), grid, truncate);
    // The prompt as the caption the model scores (ids; a leading BOS is the mmu prompt's own; cut to its budget).
    const bos = deps.prompting.layout.bosId;
    const captionOf = (t: number[]): number[] => (t[0] === bos ? t.slice(1) : t).slice(0, deps.prompting.maxSeqLength - 2);
    const { logProbs } = await scoreTexts({ ...deps, model: deps.model as TextModel }, { images: all.map((codes) => ({ codes })), texts: rows.map(captionOf) });
    const scores = texts.map((_, i) => logProbs.slice(i * candidates, (i + 1) * candidates));
    const chosen = scores.map((s) => s.indexOf(Math.max(...s)));
    const byPrompt = texts.map((_, i) => all.slice(i * candidates, (i + 1) * candidates));
    ctx.emit({ type: 'rerank', task: 't2i', scores, chosen, candidates: byPrompt });
    const codes = chosen.map((c, i) => byPrompt[i]![c]!);
    const images = settings.decode ? await decodeCodes(deps, codes, grid) : undefined;
    ctx.emit({ type: 'done', task: 't2i', result: { codes, grid, ...(images ? { images } : {}), rerank: { scores, chosen } } });
  }, request.signal);
}

function isTextModel(model: unknown): model is TextModel {
  const m = model as { openTextSession?: unknown; forward?: unknown };
  return typeof m.openTextSession === 'function' || typeof m.forward === 'function';
}

/** How a pixel mask becomes a token mask. */
export type MaskRule = 'any' | 'most' | { threshold: number };

/**
 * Token mask [h·w] of a pixel mask: each token covers a `patch × patch` block of pixels and is masked (1) when the
 * share of masked pixels in its block is above the rule's threshold — `any` (default): at least one pixel, so
 * every pixel the user marked is regenerated; `most`: more than half; `{ threshold: t }`: more than t ∈ [0, 1).
 * The mask must have exactly the image's pixel size.
 */
export function pixelMaskToTokenMask(mask: PixelMask, grid: TokenGrid, patch: number, rule: MaskRule = 'any'): Uint8Array {
  const w = grid.width * patch;
  const h = grid.height * patch;
  if (mask.width !== w || mask.height !== h || mask.data.length !== w * h) {
    throw new ImageSizeMismatchError('the inpainting mask', `${w}×${h} (${w * h} values)`, `${mask.width}×${mask.height} with ${mask.data.length} values`);
  }
  const threshold = rule === 'any' ? 0 : rule === 'most' ? 0.5 : rule.threshold;
  if (!(threshold >= 0 && threshold < 1)) throw new InvalidSamplingOptionError('mask threshold', threshold, 'in [0, 1)');
  const out = new Uint8Array(grid.height * grid.width);
  const area = patch * patch;
  for (let ty = 0; ty < grid.height; ty++) {
    for (let tx = 0; tx < grid.width; tx++) {
      let count = 0;
      for (let y = ty * patch; y < (ty + 1) * patch; y++) for (let x = tx * patch; x < (tx + 1) * patch; x++) if (mask.data[y * w + x]) count++;
      out[ty * grid.width + tx] = count / area > threshold ? 1 : 0;
    }
  }
  return out;
}

/** A request for text-guided inpainting. */
export interface InpaintRequest extends MaskGitRequestOptions {
  prompts: readonly TextInput[];
  /** The images to edit (codes or pixels), one per prompt. */
  images: readonly ImageInput[];
  /** Where to regenerate, one per image: a pixel mask (needs the codec's patch size) or a token mask [h·w]. */
  masks: readonly (PixelMask | { tokens: ArrayLike<number | boolean> })[];
  /** Pixel → token rule (default `any`). */
  maskRule?: MaskRule;
}

/**
 * Text-guided inpainting: the tokens under the mask are regenerated under the prompt, all others are kept exactly
 * (they are given tokens, never re-masked). The official inference uses the same `t2i_generate` loop.
 */
export function inpaint(deps: ImagePipelineDeps, request: InpaintRequest): Observable<ImageGenerationEvent> {
  const settings = resolveMaskGitSettings(deps, request);
  const grid = modelGrid(deps);
  const truncate = request.truncatePrompts ?? false;
  const texts = preparePrompts(deps, request.prompts, truncate);
  checkImageInputs(deps, request.images, grid, 'inpainting image');
  const n = grid.height * grid.width;
  if (request.images.length !== texts.length || request.masks?.length !== texts.length) {
    throw new InvalidArgumentError(`inpainting needs one image and one mask per prompt (${texts.length} prompts, ${request.images.length} images, ${request.masks?.length} masks)`);
  }
  const tokenMasks = request.masks.map((m, row) => {
    if ('tokens' in m) {
      if (m.tokens.length !== n) throw new ImageSizeMismatchError(`token mask of batch row ${row}`, `${n} entries`, `${m.tokens.length}`);
      return Uint8Array.from(m.tokens as ArrayLike<number>, (v) => (v ? 1 : 0));
    }
    if (!deps.codec) throw new InvalidArgumentError('pixel masks need an image codec (its patch size maps pixels to tokens); pass token masks instead');
    return pixelMaskToTokenMask(m, grid, deps.codec.patchSize, request.maskRule ?? 'any');
  });
  return generation<ImageGenerationEvent>(async (ctx) => {
    ctx.emit({ type: 'start', task: 'inpaint', batch: texts.length, steps: settings.scheduler.steps, passes: 1, grid, cached: usesCache(deps) });
    await ctx.yield();
    const codes = await resolveImageCodes(deps, request.images, grid);
    const initial = new Int32Array(texts.length * n);
    codes.forEach((c, b) => c.forEach((code, i) => (initial[b * n + i] = tokenMasks[b]![i] ? MASKED : code)));
    await runSingleWindow(ctx, 'inpaint', deps, settings, texts, initial, grid, truncate);
  }, request.signal);
}

/** A request for mask-free editing. */
export interface EditRequest extends MaskGitRequestOptions {
  /** The new prompts, one per image. */
  prompts: readonly TextInput[];
  images: readonly ImageInput[];
  /**
   * Fraction of each image's tokens to regenerate, in (0, 1]: `round(strength·N)` tokens (at least 1) chosen
   * uniformly at random with the request's uniform source (N uniforms per row, the smallest are re-masked); the
   * rest is kept exactly.
   */
  strength: number;
}

/** Mask-free editing: re-mask a random share of an existing image's tokens and regenerate them under a new prompt. */
export function edit(deps: ImagePipelineDeps, request: EditRequest): Observable<ImageGenerationEvent> {
  const settings = resolveMaskGitSettings(deps, request);
  const grid = modelGrid(deps);
  const truncate = request.truncatePrompts ?? false;
  const texts = preparePrompts(deps, request.prompts, truncate);
  checkImageInputs(deps, request.images, grid, 'image to edit');
  if (request.images.length !== texts.length) throw new InvalidArgumentError(`editing needs one image per prompt (${texts.length} prompts, ${request.images.length} images)`);
  const s = request.strength;
  if (!(typeof s === 'number' && s > 0 && s <= 1)) throw new InvalidSamplingOptionError('strength', s, 'in (0, 1]');
  const n = grid.height * grid.width;
  const count = Math.min(n, Math.max(1, Math.round(s * n)));
  return generation<ImageGenerationEvent>(async (ctx) => {
    ctx.emit({ type: 'start', task: 'edit', batch: texts.length, steps: settings.scheduler.steps, passes: 1, grid, cached: usesCache(deps) });
    await ctx.yield();
    const codes = await resolveImageCodes(deps, request.images, grid);
    const initial = new Int32Array(texts.length * n);
    codes.forEach((c, b) => {
      const u = drawUniforms(settings.uniforms, n);
      const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => u[x]! - u[y]! || x - y);
      const masked = new Uint8Array(n);
      for (let k = 0; k < count; k++) masked[order[k]!] = 1;
      c.forEach((code, i) => (initial[b * n + i] = masked[i] ? MASKED : code));
    });
    await runSingleWindow(ctx, 'edit', deps, settings, texts, initial, grid, truncate);
  }, request.signal);
}

/** Direction in which extrapolation grows the image. */
export type ExtrapolationDirection = 'left' | 'right' | 'up' | 'down';

/** A request for extrapolation (outpainting beyond the image's border). */
export interface ExtrapolateRequest extends MaskGitRequestOptions {
  prompts: readonly TextInput[];
  /** Images of the model's grid size (codes or pixels). */
  images: readonly ImageInput[];
  direction: ExtrapolationDirection;
  /** New token columns (left/right) or rows (up/down). */
  amount: number;
  /**
   * Existing token columns/rows the model sees next to each new strip (default: half the grid, as the official
   * demo extends by half an image at a time). Each window is the model's grid: `context` old + `grid − context`
   * new columns; wider requests take several windows, each conditioned on the strip before it.
   */
  context?: number;
  /** Longest side of the grown image in tokens (default 4× the grid side): guards memory and decoder size. */
  maxExtent?: number;
}

/** Where a window sits on the canvas and which of its columns/rows are new. */
interface WindowPlan {
  /** Top-left of the window on the canvas (token units). */
  x: number;
  y: number;
}

/**
 * Extrapolation. The model only ever sees windows of its own token grid (so the sequence never exceeds its
 * position budget): the canvas grows by `amount` columns/rows; the new area is generated window by window, each
 * window holding `context` columns/rows of already-known tokens adjacent to the new strip (given tokens: never
 * re-masked) and the strip itself. Original tokens stay in place, untouched. Events report the whole canvas.
 */
export function extrapolate(deps: ImagePipelineDeps, request: ExtrapolateRequest): Observable<ImageGenerationEvent> {
  const settings = resolveMaskGitSettings(deps, request);
  const grid = modelGrid(deps);
  const truncate = request.truncatePrompts ?? false;
  const texts = preparePrompts(deps, request.prompts, truncate);
  checkImageInputs(deps, request.images, grid, 'image to extrapolate');
  if (request.images.length !== texts.length) throw new InvalidArgumentError(`extrapolation needs one image per prompt (${texts.length} prompts, ${request.images.length} images)`);
  const dir = request.direction;
  if (!['left', 'right', 'up', 'down'].includes(dir)) throw new InvalidSamplingOptionError('direction', dir, 'left, right, up or down');
  const horizontal = dir === 'left' || dir === 'right';
  const span = horizontal ? grid.width : grid.height;
  const amount = request.amount;
  if (!Number.isInteger(amount) || amount < 1) throw new ExtrapolationBudgetError(`extrapolation amount must be an integer ≥ 1 token ${horizontal ? 'columns' : 'rows'}, got ${amount}`);
  const context = request.context ?? Math.max(1, Math.floor(span / 2));
  if (!Number.isInteger(context) || context < 1 || context >= span) {
    throw new ExtrapolationBudgetError(`extrapolation context must be an integer in 1 … ${span - 1} (the model's grid is ${span} tokens wide along ${horizontal ? 'x' : 'y'}), got ${context}`);
  }
  const maxExtent = request.maxExtent ?? 4 * span;
  if (span + amount > maxExtent) {
    throw new ExtrapolationBudgetError(`extrapolating by ${amount} makes the image ${span + amount} tokens long, beyond the budget of ${maxExtent} (maxExtent)`);
  }
  const canvas: TokenGrid = horizontal ? { height: grid.height, width: grid.width + amount } : { height: grid.height + amount, width: grid.width };
  const stripe = span - context; // new columns/rows per window
  const passes = Math.ceil(amount / stripe);
  const b = texts.length;
  const n = grid.height * grid.width;
  const cn = canvas.height * canvas.width;

  // Window k covers new lines [k·stripe, min(amount, (k+1)·stripe)) counted from the old edge; the window is
  // shifted so that it always holds `span` lines: the new ones plus the nearest known ones.
  const plans: WindowPlan[] = [];
  for (let k = 0; k < passes; k++) {
    const generatedAfter = Math.min(amount, (k + 1) * stripe); // new lines known once this window is done
    let x = 0;
    let y = 0;
    if (dir === 'right') x = grid.width + generatedAfter - span;
    else if (dir === 'left') x = amount - generatedAfter;
    else if (dir === 'down') y = grid.height + generatedAfter - span;
    else y = amount - generatedAfter;
    plans.push({ x, y });
  }

  return generation<ImageGenerationEvent>(async (ctx) => {
    ctx.emit({ type: 'start', task: 'extrapolate', batch: b, steps: settings.scheduler.steps, passes, grid: canvas, cached: usesCache(deps) });
    await ctx.yield();
    const codes = await resolveImageCodes(deps, request.images, grid);
    // The canvas, MASKED where new; the original placed at its offset.
    const ox = dir === 'left' ? amount : 0;
    const oy = dir === 'up' ? amount : 0;
    const board = new Int32Array(b * cn).fill(MASKED);
    codes.forEach((c, r) => {
      for (let i = 0; i < grid.height; i++) for (let j = 0; j < grid.width; j++) board[r * cn + (i + oy) * canvas.width + (j + ox)] = c[i * grid.width + j]!;
    });
    const readWindow = (plan: WindowPlan): Int32Array => {
      const out = new Int32Array(b * n);
      for (let r = 0; r < b; r++) {
        for (let i = 0; i < grid.height; i++) for (let j = 0; j < grid.width; j++) out[r * n + i * grid.width + j] = board[r * cn + (i + plan.y) * canvas.width + (j + plan.x)]!;
      }
      return out;
    };
    const writeWindow = (plan: WindowPlan, win: Int32Array, target: Int32Array): void => {
      for (let r = 0; r < b; r++) {
        for (let i = 0; i < grid.height; i++) for (let j = 0; j < grid.width; j++) target[r * cn + (i + plan.y) * canvas.width + (j + plan.x)] = win[r * n + i * grid.width + j]!;
      }
    };
    for (let k = 0; k < passes; k++) {
      const plan = plans[k]!;
      const initial = readWindow(plan);
      const window = buildWindow(deps, texts, initial, settings.guidance, truncate);
      const out = await runMaskGitPass(ctx, deps, settings, window, settings.scheduler.initialState(initial, b), async (o) => {
        const tokens = board.slice();
        writeWindow(plan, o.state.codes, tokens);
        const sampled = board.slice();
        writeWindow(plan, o.sampled, sampled);
        for (let i = 0; i < sampled.length; i++) if (sampled[i] === MASKED) sampled[i] = 0; // not generated yet: code 0 in previews
        ctx.emit(await stepEvent(deps, settings, 'extrapolate', o, k, canvas, tokens, sampled, b));
      });
      writeWindow(plan, out.sampled, board);
    }
    const result = rowsOf(board, b);
    const images = settings.decode ? await decodeCodes(deps, result, canvas) : undefined;
    ctx.emit({ type: 'done', task: 'extrapolate', result: { codes: result, grid: canvas, ...(images ? { images } : {}) } });
  }, request.signal);
}


/**
 * The count pipeline: image → `<|count|> <|soi|> image <|eoi|> BOS` → the sampler's decoding stream (KV cache,
 * greedy by default) → a count. A small composition of existing streams: the prompt comes from the registered
 * task, the mask from its attention rule, the tokens from `@showo/sampler`'s `generateTokens`.
 */
import { Observable, concatMap, defer, fromEvent, map, takeUntil } from 'rxjs';
import { InvalidArgumentError } from '@showo/runtime';
import { buildOmniMask } from '@showo/omni-attention';
import type { TaskRegistry } from '@showo/prompting';
import { COUNT_WORDS } from '@showo/shapes-world';
import { generateTokens, type CacheMode, type DecodingRequestOptions, type ImageCodec, type RgbImage, type TextModel } from '@showo/sampler';
import { COUNT_MAX_ANSWER_TOKENS, COUNT_TASK } from './constants.js';
import type { CountInput } from './task.js';

/** What the count pipeline runs on. */
export interface CountPipelineDeps {
  /** The model, grown for the plugin (any sampler model: `ShowoModel`, or a user's own). */
  model: TextModel;
  /** A registry with the count task registered (its prompting knows N and the tokenizer). */
  registry: TaskRegistry;
  /** For images given as pixels. */
  codec?: ImageCodec;
  cache?: CacheMode;
}

/** A count request: images as codes (N each) or pixels (needs the codec). */
export interface CountRequest extends DecodingRequestOptions {
  images: readonly ({ codes: ArrayLike<number> } | { image: RgbImage })[];
}

export interface CountStartEvent {
  type: 'start';
  task: 'count';
  batch: number;
}

/** One answer token of one image. */
export interface CountTokenEvent {
  type: 'token';
  task: 'count';
  row: number;
  token: number;
  text?: string;
}

export interface CountResult {
  /** The answer text per image (`one`, `two`, …). */
  answers: string[];
  /** The count per image, or null when the answer is not a count word. */
  counts: (number | null)[];
}

export interface CountDoneEvent {
  type: 'done';
  task: 'count';
  result: CountResult;
}

export type CountEvent = CountStartEvent | CountTokenEvent | CountDoneEvent;

/** The number a count word stands for (`one` → 1), or null. */
export function parseCount(answer: string): number | null {
  const i = COUNT_WORDS.indexOf(answer.trim().toLowerCase().replace(/\.$/, ''));
  return i >= 0 ? i + 1 : null;
}

/**
 * Counts the objects of each image as a cold stream of {@link CountEvent}s. Validates synchronously (the task
 * must be registered: `UnknownTaskError`; image sizes: `InvalidArgumentError`); unsubscribing or aborting frees
 * every tensor (the sampler's decoding stream does).
 */
export function countObjects(deps: CountPipelineDeps, request: CountRequest): Observable<CountEvent> {
  const registry = deps.registry;
  registry.get(COUNT_TASK); // UnknownTaskError when the plugin is not registered
  const p = registry.prompting;
  const L = registry.layout;
  const n = p.numVqTokens;
  if (!Array.isArray(request.images) || request.images.length === 0) throw new InvalidArgumentError('count needs at least one image');
  request.images.forEach((img, row) => {
    if ('codes' in img) {
      if (img.codes.length !== n) throw new InvalidArgumentError(`image ${row} has ${img.codes.length} codes, the model expects ${n}`);
      for (let i = 0; i < img.codes.length; i++) {
        const c = img.codes[i]!;
        if (!Number.isInteger(c) || c < 0 || c >= L.codebookSize) throw new InvalidArgumentError(`image ${row} holds ${c} at ${i}, not a code of the ${L.codebookSize}-entry codebook`);
      }
    } else if (!deps.codec) throw new InvalidArgumentError(`image ${row} is given as pixels: the pipeline needs an image codec`);
  });
  const { images: _images, ...decoding } = request;
  const tokenizer = request.tokenizer ?? p.tokenizer;

  const codes$ = defer(async () => {
    const pixels = request.images.filter((i): i is { image: RgbImage } => 'image' in i).map((i) => i.image);
    const encoded = pixels.length ? await deps.codec!.encode(pixels) : [];
    let k = 0;
    return request.images.map((img) => Array.from('codes' in img ? img.codes : encoded[k++]!));
  });
  const events$ = codes$.pipe(
    concatMap((codes) => {
      const prompt = registry.build<CountInput>(COUNT_TASK, { imageIds: codes.map((c) => L.codesToIds(c)) });
      const rule = registry.get(COUNT_TASK).attention;
      const allow = buildOmniMask(registry.segments(COUNT_TASK, prompt.inputIds), { pad: rule.pad });
      const length = prompt.inputIds[0]!.length;
      const ids = Int32Array.from(prompt.inputIds.flat());
      return generateTokens(
        { model: deps.model, prompting: p, ...(deps.cache ? { cache: deps.cache } : {}) },
        {
          greedy: true,
          maxNewTokens: COUNT_MAX_ANSWER_TOKENS,
          ...decoding,
          stopIds: request.stopIds ?? [L.eosId],
          ...(tokenizer ? { tokenizer } : {}),
          input: { ids, rows: codes.length, length, allow },
        },
      ).pipe(
        map((e): CountEvent => {
          if (e.type === 'start') return { type: 'start', task: 'count', batch: e.batch };
          if (e.type === 'token') return { type: 'token', task: 'count', row: e.row, token: e.token, ...(e.text !== undefined ? { text: e.text } : {}) };
          const answers = e.result.texts ?? e.result.tokens.map((t) => t.join(' '));
          return { type: 'done', task: 'count', result: { answers, counts: answers.map(parseCount) } };
        }),
      );
    }),
  );
  return request.signal ? events$.pipe(takeUntil(fromEvent(request.signal, 'abort'))) : events$;
}

/** The result of a count stream (undefined when cancelled first). */
export function countResult(events: Observable<CountEvent>): Promise<CountResult | undefined> {
  return new Promise((resolve, reject) => {
    let result: CountResult | undefined;
    events.subscribe({ next: (e) => e.type === 'done' && (result = e.result), error: reject, complete: () => resolve(result) });
  });
}

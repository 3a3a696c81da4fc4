/**
 * `createShowo()`: one call from a model folder to a ready model — backend chosen, container built from every
 * package's module, weights loaded — with one method per task. Each method returns a cold stream of the sampler's
 * typed events that can also be awaited (`await showo.t2i('a red circle').image()`).
 */
import type { Container } from 'inversify';
import { defer, from, fromEvent, switchMap, takeUntil, type Observable } from 'rxjs';
import { BackendUnavailableError, InvalidArgumentError, initBackend, resolveWorkerCount, type BackendChoice, type BackendName, type DualEngine, type UniformSource } from '@showo/runtime';
import { ShowoModel, createShowoEngine } from '@showo/showo-core';
import type { UniversalPrompting } from '@showo/prompting';
import { PROMPTING_TYPES } from '@showo/prompting';
import {
  SAMPLER_TYPES,
  ShowoPipelines,
  howto,
  positionBudget,
  withDualEngine,
  type HowtoEvent,
  type HowtoResult,
  type ExtrapolationDirection,
  type MaskRule,
  type MaskScheduleSpec,
  type RgbImage,
} from '@showo/sampler';
import { defaultModelDir, resolveModelBundle, type GenerationDefaults, type MaskGitDefaults, type ModelBundle } from './bundle.js';
import { createShowoContainer, SHOWO_TYPES } from './di.js';
import { loadModelImage, readImageSource, fitImage, resolveRegion, type ImageSource, type InpaintRegion } from './images.js';
import { AnswerStream, ImageStream, ShowoStream } from './stream.js';

/** Options of {@link createShowo}. */
export interface CreateShowoOptions {
  /** Model folder (either layout) or a resolved bundle; default {@link defaultModelDir} (`SHOWO_MODEL` or the embedded model). */
  model?: string | ModelBundle;
  /** Tensor backend (default `auto`: tfjs-node if installed, else wasm, else cpu; `SHOWO_BACKEND` overrides `auto`). */
  backend?: BackendName;
  /** Seed of the shared uniform source that requests without their own `seed` draw from (default 0). */
  seed?: number;
  /**
   * Engines for image generation with classifier-free guidance (1, 2 or 'auto'; default `SHOWO_WORKERS`, else 1).
   * With 2, the unconditional rows of every guided MaskGIT step (t2i, inpaint, extrapolate, edit) run in a worker
   * thread — a second wasm engine, on a second core — while the conditional rows run on the main thread; results
   * are identical to 1. The worker starts on first use (1–4 s; it holds its own copy of the weights) and is kept
   * until {@link Showo.dispose}. It pays only when a second core is free: on a loaded machine it can be slower.
   * 'auto': 2 when the machine has at least two cores. Applies to showo-core's model on the wasm or cpu backend
   * (tfjs-node already uses every core); how-to generation and answers stay on the main thread.
   */
  workers?: 1 | 2 | 'auto';
  /** Where to report the backend choice (default: nowhere). */
  log?: (line: string) => void;
  /** Called with the container before anything is resolved: rebind a token here to swap a part. */
  configure?: (container: Container) => void | Promise<void>;
}

/** Options every image task takes; unset ones come from the bundle's defaults for the task. */
export interface ImageOptions {
  steps?: number;
  guidanceScale?: number;
  temperature?: number;
  /** Temperature of the code distribution (below 1 sharpens it; default: the bundle's, else 1 as officially). */
  codeTemperature?: number;
  schedule?: MaskScheduleSpec;
  /** A seed for this request alone (reproducible); without it the shared source of the instance is used. */
  seed?: number;
  uniforms?: UniformSource;
  signal?: AbortSignal;
  /** Decoded previews in the step events (every step, or every `every` steps). */
  preview?: boolean | { every: number };
  /** Cut over-long prompts the official way instead of refusing them. */
  truncatePrompts?: boolean;
}

/** Options of {@link Showo.t2i}. */
export interface T2iOptions extends ImageOptions {
  /**
   * Candidates per prompt; the one whose image the model finds the prompt the likeliest caption of is kept
   * (default: the bundle's `generation.rerank`, else 1: no reranking).
   */
  rerank?: number;
}

export interface InpaintOptions extends ImageOptions {
  /** Pixel → token rule (default `any`: every token touching the region is regenerated). */
  maskRule?: MaskRule;
}

export interface ExtrapolateOptions extends ImageOptions {
  direction: ExtrapolationDirection;
  /** Pixels to add on that side (rounded up to whole tokens). */
  amount: number;
  /** Known token columns/rows each window sees (default: half the grid). */
  context?: number;
  maxExtent?: number;
}

export interface EditOptions extends ImageOptions {
  /** Share of the image's tokens to regenerate, in (0, 1] (default 0.5). */
  strength?: number;
}

/** Options of {@link Showo.answer}; unset ones come from the bundle (greedy by default). */
export interface AnswerOptions {
  maxNewTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  greedy?: boolean;
  /** Beam search with this many beams (deterministic; not with temperature, topK or topP). */
  numBeams?: number;
  /** Beam search: exponent of the length normalisation (default 1). */
  lengthPenalty?: number;
  seed?: number;
  uniforms?: UniformSource;
  signal?: AbortSignal;
}

/** A stream of how-to events. */
export class HowtoStream extends ShowoStream<HowtoEvent, HowtoResult> {
  /** The keyframes, one per step. */
  async images(onEvent?: (event: HowtoEvent) => void): Promise<RgbImage[]> {
    return (await this.result(onEvent)).steps.flatMap((s) => (s.image ? [s.image] : []));
  }
}

/** Options of {@link Showo.howto}. */
export interface HowtoOptions extends ImageOptions {
  /** Free mode: most steps (default 3). */
  maxSteps?: number;
  /** Free mode: most tokens of one step text. */
  maxStepTokens?: number;
}

function maskGitRequest(d: MaskGitDefaults, o: ImageOptions) {
  const codeTemperature = o.codeTemperature ?? d.codeTemperature;
  return {
    steps: o.steps ?? d.steps,
    guidanceScale: o.guidanceScale ?? d.guidanceScale,
    temperature: o.temperature ?? d.temperature,
    schedule: o.schedule ?? d.schedule,
    ...(codeTemperature !== undefined ? { codeTemperature } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.uniforms ? { uniforms: o.uniforms } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.preview !== undefined ? { preview: o.preview } : {}),
    ...(o.truncatePrompts !== undefined ? { truncatePrompts: o.truncatePrompts } : {}),
  };
}

/**
 * Inputs are resolved (files read, images fitted) on subscription, then the sampler's stream takes over; errors of
 * either arrive through the stream. The abort signal ends the stream as the last operator.
 */
function lazy<E>(build: () => Promise<Observable<E>>, signal: AbortSignal | undefined): Observable<E> {
  const events = defer(() => from(build())).pipe(switchMap((o) => o));
  return signal ? events.pipe(takeUntil(fromEvent(signal, 'abort'))) : events;
}

const asArray = <T>(v: T | readonly T[]): readonly T[] => (Array.isArray(v) ? (v as readonly T[]) : [v as T]);

/** The pipelines of the image tasks on two engines, and the engine they start on first use. */
export interface DualImagePipelines {
  /** Pipelines whose model runs guided MaskGIT steps on two engines (`withDualEngine` of the sampler). */
  readonly pipelines: ShowoPipelines;
  /** The engine, once it was started (undefined before first use). */
  started(): Promise<DualEngine> | undefined;
  /** Stops the worker (if it was started). */
  dispose(): Promise<void>;
}

/** Image pipelines whose guided steps run on two engines over `model`; the engine starts on first use. */
export function dualImagePipelines(base: ShowoPipelines, model: ShowoModel): DualImagePipelines {
  let engine: Promise<DualEngine> | undefined;
  let disposed = false;
  const start = (): Promise<DualEngine> => {
    if (disposed) return Promise.reject(new InvalidArgumentError('this Showo instance was disposed'));
    // A failed start is not kept: the next request tries again.
    engine ??= createShowoEngine(model, { workers: 2 }).catch((e) => {
      engine = undefined;
      throw e;
    });
    return engine;
  };
  return {
    pipelines: new ShowoPipelines({ ...base.deps, model: withDualEngine(model, start, { ...(base.deps.cache ? { cache: base.deps.cache } : {}) }) }),
    started: () => engine,
    async dispose() {
      disposed = true;
      const e = await engine?.catch(() => undefined);
      engine = undefined;
      await e?.dispose();
    },
  };
}

/** A loaded Show-o with one method per task. Create it with {@link createShowo}; free it with {@link dispose}. */
export class Showo {
  private disposed = false;
  private readonly imagePipelines: ShowoPipelines;

  constructor(
    readonly bundle: ModelBundle,
    readonly container: Container,
    readonly pipelines: ShowoPipelines,
    readonly backend: BackendChoice,
    /** Engines the image tasks use (see {@link CreateShowoOptions.workers}): 2 only when they run on two. */
    readonly workers: 1 | 2,
    /** The image tasks on two engines (with `workers: 2`). */
    readonly dual?: DualImagePipelines,
  ) {
    this.imagePipelines = dual?.pipelines ?? pipelines;
  }

  /** Per-task defaults (the bundle's, unless `SHOWO_TYPES.GenerationDefaults` was rebound). */
  get defaults(): GenerationDefaults {
    return this.container.get<GenerationDefaults>(SHOWO_TYPES.GenerationDefaults);
  }

  /** Pixels per side of the images the model draws and reads. */
  get imageSize(): number {
    return this.bundle.imageSize;
  }

  private get prompting(): UniversalPrompting {
    return this.container.get<UniversalPrompting>(PROMPTING_TYPES.UniversalPrompting);
  }

  private live(): void {
    if (this.disposed) throw new InvalidArgumentError('this Showo instance was disposed');
  }

  /** Text-to-image: one image per prompt. */
  t2i(prompt: string | readonly string[], options: T2iOptions = {}): ImageStream {
    this.live();
    const rerank = options.rerank ?? this.defaults.t2i.rerank;
    const request = { prompts: asArray(prompt), ...maskGitRequest(this.defaults.t2i, options), ...(rerank !== undefined ? { rerank } : {}) };
    return new ImageStream(lazy(async () => this.imagePipelines.textToImage(request), options.signal), 'text-to-image');
  }

  /** Inpainting: the region is regenerated under the prompt; everything else is kept exactly (token-wise). */
  inpaint(image: ImageSource, prompt: string, region: InpaintRegion, options: InpaintOptions = {}): ImageStream {
    this.live();
    const base = maskGitRequest(this.defaults.inpaint, options);
    return new ImageStream(
      lazy(async () => {
        const original = await readImageSource(image);
        const mask = await resolveRegion(region, original.width, original.height, this.imageSize);
        const fitted = fitImage(original, this.imageSize);
        return this.imagePipelines.inpaint({ prompts: [prompt], images: [{ image: fitted }], masks: [mask], ...(options.maskRule ? { maskRule: options.maskRule } : {}), ...base });
      }, options.signal),
      'inpainting',
    );
  }

  /** Extrapolation: the canvas grows by `amount` pixels towards `direction`; the original stays in place. */
  extrapolate(image: ImageSource, prompt: string, options: ExtrapolateOptions): ImageStream {
    this.live();
    const base = maskGitRequest(this.defaults.extrapolate, options);
    return new ImageStream(
      lazy(async () => {
        if (!(Number.isFinite(options?.amount) && options.amount > 0)) throw new InvalidArgumentError(`extrapolation amount must be a positive number of pixels, got ${options?.amount}`);
        const amount = Math.ceil(options.amount / this.bundle.patchSize);
        const img = await loadModelImage(image, this.imageSize);
        return this.imagePipelines.extrapolate({
          prompts: [prompt],
          images: [{ image: img }],
          direction: options.direction,
          amount,
          ...(options.context !== undefined ? { context: options.context } : {}),
          ...(options.maxExtent !== undefined ? { maxExtent: options.maxExtent } : {}),
          ...base,
        });
      }, options.signal),
      'extrapolation',
    );
  }

  /** Mask-free editing: a random share (`strength`) of the image's tokens is regenerated under the new prompt. */
  edit(image: ImageSource, prompt: string, options: EditOptions = {}): ImageStream {
    this.live();
    const base = maskGitRequest(this.defaults.edit, options);
    return new ImageStream(
      lazy(async () => {
        const img = await loadModelImage(image, this.imageSize);
        return this.imagePipelines.edit({ prompts: [prompt], images: [{ image: img }], strength: options.strength ?? 0.5, ...base });
      }, options.signal),
      'editing',
    );
  }

  /** Understanding: answers a question about an image (or one question per image, as a batch). */
  answer(image: ImageSource | readonly ImageSource[], question: string | readonly string[], options: AnswerOptions = {}): AnswerStream {
    this.live();
    const images = Array.isArray(image) ? (image as readonly ImageSource[]) : [image as ImageSource];
    const questions = asArray(question);
    const d = this.defaults.answer;
    // The bundle's defaults (greedy, beams) yield to any sampling option the request names.
    const sampling = options.temperature !== undefined || options.topK !== undefined || options.topP !== undefined;
    const numBeams = options.numBeams ?? (sampling || options.greedy !== undefined ? undefined : d.numBeams);
    const beams = numBeams !== undefined && numBeams > 1;
    const temperature = options.temperature ?? (beams ? undefined : d.temperature);
    const topK = options.topK ?? (beams ? undefined : d.topK);
    const greedy = options.greedy ?? (sampling ? undefined : d.greedy);
    const lengthPenalty = options.lengthPenalty ?? (beams ? d.lengthPenalty : undefined);
    return new AnswerStream(
      lazy(async () => {
        const p = this.prompting;
        // Default length: the text budget the model was trained with, cut to what its position budget leaves.
        const longest = Math.max(0, ...p.encodeTexts(questions).map((t) => t.length));
        const room = positionBudget({ model: { config: this.bundle.showo.config } }) - (3 + p.numVqTokens + 1 + longest);
        const maxNewTokens = options.maxNewTokens ?? Math.max(1, Math.min(d.maxNewTokens ?? p.maxSeqLength, room));
        const pixels = await Promise.all(images.map((img, i) => loadModelImage(img, this.imageSize, `image ${i}`)));
        return this.pipelines.understand({
          images: pixels.map((img) => ({ image: img })),
          questions,
          maxNewTokens,
          ...(temperature !== undefined ? { temperature } : {}),
          ...(topK !== undefined ? { topK } : {}),
          ...(options.topP !== undefined ? { topP: options.topP } : {}),
          ...(greedy !== undefined ? { greedy } : {}),
          ...(numBeams !== undefined ? { numBeams } : {}),
          ...(lengthPenalty !== undefined ? { lengthPenalty } : {}),
          ...(options.seed !== undefined ? { seed: options.seed } : {}),
          ...(options.uniforms ? { uniforms: options.uniforms } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
      }, options.signal),
      'understanding',
    );
  }

  /**
   * How-to sequences. Guided (step texts given, the SPEC's scored mode): one keyframe per step, each conditioned on
   * the question and everything before it. Free (no step texts): the model also writes the steps.
   */
  howto(question: string, stepTexts?: readonly string[], options: HowtoOptions = {}): HowtoStream {
    this.live();
    const request = {
      question,
      ...(stepTexts ? { stepTexts } : {}),
      ...(options.maxSteps !== undefined ? { maxSteps: options.maxSteps } : {}),
      ...(options.maxStepTokens !== undefined ? { maxStepTokens: options.maxStepTokens } : {}),
      ...maskGitRequest(this.defaults.howto, options),
    };
    return new HowtoStream(lazy(async () => howto(this.pipelines.deps, request), options.signal), 'how-to generation');
  }

  /** Frees the model and the image tokenizer (every tensor the instance holds) and stops the worker. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    try {
      await this.dual?.dispose(); // first: the engine borrows the model's weights
    } finally {
      await this.container.unbindAllAsync();
    }
  }
}

/**
 * Loads a model folder and returns a ready {@link Showo}: resolves and checks the bundle (one clear
 * `ModelBundleError` for a missing or incomplete folder, before any weight is read), selects the backend, builds
 * the container from every package's module, and loads the transformer and the image tokenizer.
 */
export async function createShowo(options: CreateShowoOptions = {}): Promise<Showo> {
  const bundle = typeof options.model === 'object' ? options.model : resolveModelBundle(options.model ?? defaultModelDir());
  let workers = resolveWorkerCount(options.workers);
  const backend = await initBackend(options.backend ?? 'auto', options.log ? { log: options.log } : {});
  if (backend.name === 'webgpu' && bundle.showo.config.image_position_embedding && typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas === 'undefined') {
    // The pipelines read the device only asynchronously, but a model with image row / column embeddings reads its
    // input ids synchronously in every forward, and tfjs-webgpu's synchronous read needs an OffscreenCanvas
    // (a browser's; Node has none).
    throw new BackendUnavailableError(
      'webgpu',
      `${bundle.dir} has image row / column embeddings, whose forward reads its input synchronously, which tfjs-webgpu supports only where OffscreenCanvas exists (a browser); in Node use wasm, cpu or tensorflow`,
    );
  }
  const container = createShowoContainer(bundle, { seed: options.seed ?? 0, backend: options.backend ?? 'auto' });
  try {
    await options.configure?.(container);
    const pipelines = await container.getAsync<ShowoPipelines>(SAMPLER_TYPES.Pipelines);
    let dual: DualImagePipelines | undefined;
    if (workers === 2) {
      const model = pipelines.deps.model;
      if (!(model instanceof ShowoModel)) {
        options.log?.('[showo] workers: 2 applies to showo-core\'s model; this container runs another one: using 1');
        workers = 1;
      } else if (backend.name === 'tensorflow' || backend.name === 'webgpu') {
        options.log?.(`[showo] workers: 2 is for the wasm and cpu backends (${backend.name} already uses the whole device): using 1`);
        workers = 1;
      } else {
        dual = dualImagePipelines(pipelines, model);
      }
    }
    return new Showo(bundle, container, pipelines, backend, workers, dual);
  } catch (e) {
    await container.unbindAllAsync().catch(() => undefined);
    throw e;
  }
}


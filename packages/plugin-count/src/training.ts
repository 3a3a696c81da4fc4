/**
 * Fine-tuning the count task with `@showo/trainer`'s generic loop: batches built with the registered task's prompt
 * and attention rule, a next-token loss on the answer, and an endless Shapes World stream of scenes with 1–3
 * objects (never a held-out composition).
 */
import * as tf from '@tensorflow/tfjs';
import type { Observable } from 'rxjs';
import { InvalidArgumentError, SeededRandom } from '@showo/runtime';
import { buildOmniMask, type AllowMask } from '@showo/omni-attention';
import type { TaskRegistry, TextInput } from '@showo/prompting';
import { countWord, randomScene, renderScene, CANVAS_SIZE } from '@showo/shapes-world';
import {
  AdamW,
  CodeCache,
  IGNORE_INDEX,
  crossEntropy,
  train,
  type CheckpointOptions,
  type ImageEncoder,
  type JsonValue,
  type LossOutput,
  type ShowoForwardModel,
  type Stateful,
  type TrainableModel,
  type TrainEvent,
} from '@showo/trainer';
import { COUNT_TASK } from './constants.js';
import type { CountInput } from './task.js';

/** One training example: an image (token ids) and how many objects it holds (or the answer text itself). */
export interface CountItem {
  imageIds: ArrayLike<number>;
  count: number | TextInput;
}

/** A prepared count batch: ids, next-token targets aligned with the logits, and the task's attention mask. */
export interface CountBatch {
  batch: number;
  length: number;
  /** Row-major [batch, length]. */
  inputIds: Int32Array;
  /** The logits at position i are scored against `targets[i]` (-100: none). */
  targets: Int32Array;
  allow: AllowMask;
}

/**
 * Builds a training batch with the registry's `count` task (its prompt format and attention rule), so the batch
 * is exactly what the registered plugin describes. Counts given as numbers become count words.
 */
export function buildCountBatch(registry: TaskRegistry, items: readonly CountItem[]): CountBatch {
  if (items.length === 0) throw new InvalidArgumentError('a count batch needs at least one item');
  const answers = items.map((it) => (typeof it.count === 'number' ? countWord(it.count) : it.count));
  const p = registry.build<CountInput>(COUNT_TASK, { imageIds: items.map((it) => it.imageIds), answers });
  const rule = registry.get(COUNT_TASK).attention;
  const length = p.inputIds[0]!.length;
  const targets = new Int32Array(items.length * length).fill(IGNORE_INDEX);
  p.labels!.forEach((row, b) => {
    for (let i = 1; i < length; i++) if (row[i] !== registry.prompting.ignoreId) targets[b * length + i - 1] = row[i]!;
  });
  return {
    batch: items.length,
    length,
    inputIds: Int32Array.from(p.inputIds.flat()),
    targets,
    allow: buildOmniMask(registry.segments(COUNT_TASK, p.inputIds), { pad: rule.pad }),
  };
}

/** The count task as a trainable model: one forward pass, the mean next-token loss on the answers. */
export class CountTask implements TrainableModel<CountBatch> {
  constructor(readonly model: ShowoForwardModel) {}

  trainableVariables(): Record<string, tf.Variable> {
    return Object.fromEntries(this.model.namedVariables());
  }

  lossFn(batch: CountBatch): LossOutput {
    const ids = tf.tensor2d(batch.inputIds, [batch.batch, batch.length], 'int32');
    const logits = this.model.forward(ids, batch.allow);
    const loss = crossEntropy(logits, batch.targets);
    return { total: loss, parts: { count: loss }, tokens: batch.batch * batch.length };
  }

  /** The loss of a batch without training (disposes everything but the returned number). */
  evaluate(batch: CountBatch): number {
    const loss = tf.tidy(() => this.lossFn(batch).total);
    try {
      return loss.dataSync()[0]!;
    } finally {
      loss.dispose();
    }
  }
}

/** Options of {@link ShapesWorldCountData}. */
export interface CountDataOptions {
  registry: TaskRegistry;
  /** The image tokenizer, or a code cache around it. */
  encoder: ImageEncoder | CodeCache;
  seed: number;
  /** Images per batch (default 16). */
  batch?: number;
  /** Object counts drawn (default 1 … 3, all the language can say). */
  minObjects?: number;
  maxObjects?: number;
}

/** An endless, resumable stream of count batches from random Shapes World scenes. */
export class ShapesWorldCountData implements AsyncIterator<CountBatch>, AsyncIterable<CountBatch>, Stateful {
  readonly cache: CodeCache;
  private readonly rng: SeededRandom;
  private index = 0;

  constructor(private readonly o: CountDataOptions) {
    this.cache = o.encoder instanceof CodeCache ? o.encoder : new CodeCache(o.encoder, CANVAS_SIZE);
    const n = o.registry.prompting.numVqTokens;
    if (this.cache.encoder.tokensPerImage !== n) throw new InvalidArgumentError(`the image encoder gives ${this.cache.encoder.tokensPerImage} codes per image, the model expects ${n}`);
    this.rng = new SeededRandom(o.seed);
  }

  [Symbol.asyncIterator](): AsyncIterator<CountBatch> {
    return this;
  }

  async next(): Promise<IteratorResult<CountBatch>> {
    const size = this.o.batch ?? 16;
    const scenes = Array.from({ length: size }, () => randomScene(this.rng, { minObjects: this.o.minObjects ?? 1, maxObjects: this.o.maxObjects ?? 3 }));
    const offset = this.o.registry.layout.imageOffset;
    const codes = await this.cache.encode(scenes.map((s) => ({ key: JSON.stringify(s.objects), render: () => renderScene(s) })));
    this.index++;
    return { done: false, value: buildCountBatch(this.o.registry, scenes.map((s, i) => ({ imageIds: Array.from(codes[i]!, (c) => c + offset), count: s.objects.length }))) };
  }

  getState(): JsonValue {
    return { rng: this.rng.getState().map((v) => (Number.isNaN(v) ? null : v)), index: this.index };
  }

  setState(state: JsonValue): void {
    const s = state as { rng?: number[]; index?: number };
    if (!s || !Array.isArray(s.rng) || typeof s.index !== 'number') throw new InvalidArgumentError('not a count stream state');
    this.rng.setState(s.rng);
    this.index = s.index;
  }
}

/** Options of {@link fineTuneCount}. */
export interface FineTuneCountOptions {
  /** The model, already grown for the plugin (`attachPlugins`). */
  model: ShowoForwardModel;
  registry: TaskRegistry;
  encoder: ImageEncoder | CodeCache;
  steps: number;
  /** Peak learning rate (default 1e-3), cosine decay after 10 % warm-up. */
  lr?: number;
  batch?: number;
  seed?: number;
  clipGradNorm?: number;
  checkpoint?: CheckpointOptions;
  metricsLog?: string;
  signal?: AbortSignal;
}

/** Fine-tunes the count task with the trainer's generic loop (a cold stream of its events). */
export function fineTuneCount(o: FineTuneCountOptions): Observable<TrainEvent> {
  const lr = o.lr ?? 1e-3;
  return train({
    model: new CountTask(o.model),
    data: new ShapesWorldCountData({ registry: o.registry, encoder: o.encoder, seed: o.seed ?? 0, ...(o.batch !== undefined ? { batch: o.batch } : {}) }),
    optimizer: new AdamW({ weightDecay: 0.01 }),
    disposeOptimizer: true,
    schedule: { kind: 'cosine', lr, warmupSteps: Math.max(1, Math.round(o.steps / 10)), totalSteps: o.steps, minLr: lr / 10 },
    totalSteps: o.steps,
    clipGradNorm: o.clipGradNorm ?? 1,
    ...(o.checkpoint ? { checkpoint: o.checkpoint } : {}),
    ...(o.metricsLog ? { metricsLog: o.metricsLog } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
}

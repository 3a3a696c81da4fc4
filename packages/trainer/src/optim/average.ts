import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, type TensorToWrite } from '@showo/runtime';
import { namedVariables } from '../checkpoint.js';
import type { VariableSet } from '../types.js';

/** Options of {@link WeightAverage}. */
export interface WeightAverageOptions {
  /** Weight of the old average at each update, in [0, 1): 0.999 averages over roughly the last 1 000 steps. */
  decay: number;
  /**
   * Ramp the decay up as `min(decay, (1 + n) / (10 + n))` after n updates (default true), so an average started
   * from early weights forgets them quickly.
   */
  warmup?: boolean;
}

/** The non-tensor part of a {@link WeightAverage}'s state (what checkpoints keep in `state.json`). */
export interface WeightAverageState {
  decay: number;
  warmup: boolean;
  /** Updates applied so far. */
  updates: number;
}

/**
 * An exponential moving average of a model's weights (Polyak averaging; "EMA" in most training code):
 * `average ← d·average + (1 − d)·weights` after every optimiser step. Late in training the weights wander around a
 * minimum and single checkpoints of a generative model differ a lot in what they generate; their average is a
 * steadier model to evaluate and to ship.
 *
 * The average lives in its own variables, so it never disturbs training. Evaluate or save it by swapping it into
 * the model for a moment with {@link withAveragedWeights}. Pass it to `train({ average })` to have it updated after
 * every applied step and kept in every checkpoint (a resumed run continues it exactly).
 */
export class WeightAverage {
  readonly decay: number;
  readonly warmup: boolean;
  private readonly weights: Map<string, tf.Variable>;
  private readonly averages = new Map<string, tf.Variable>();
  private count = 0;
  private disposed = false;

  /** Starts the average at the variables' current values. */
  constructor(variables: VariableSet, options: WeightAverageOptions) {
    if (!(options.decay >= 0 && options.decay < 1)) throw new InvalidArgumentError(`decay must be in [0, 1), got ${options.decay}`);
    this.decay = options.decay;
    this.warmup = options.warmup ?? true;
    this.weights = namedVariables(variables);
    if (this.weights.size === 0) throw new InvalidArgumentError('a weight average needs at least one variable');
    for (const [name, v] of this.weights) this.averages.set(name, tf.tidy(() => tf.variable(v.clone(), false)));
  }

  /** Updates applied since the average (re)started. */
  get updates(): number {
    return this.count;
  }

  /** The decay the next update uses. */
  nextDecay(): number {
    return this.warmup ? Math.min(this.decay, (1 + this.count) / (10 + this.count)) : this.decay;
  }

  /** Folds the variables' current values into the average (call after each optimiser step). */
  update(): void {
    this.check();
    const d = this.nextDecay();
    tf.tidy(() => {
      for (const [name, avg] of this.averages) avg.assign(tf.add(tf.mul(avg, d), tf.mul(this.weights.get(name)!, 1 - d)));
    });
    this.count++;
  }

  /** Restarts the average at the variables' current values (e.g. resuming a checkpoint saved without one). */
  reset(): void {
    this.check();
    for (const [name, avg] of this.averages) avg.assign(this.weights.get(name)!);
    this.count = 0;
  }

  /**
   * Runs `fn` with the averaged weights in the model's variables, then puts the trained weights back — also when
   * `fn` throws. Training must not step while `fn` runs.
   */
  async withAveragedWeights<T>(fn: () => T | Promise<T>): Promise<T> {
    this.check();
    const saved = new Map<string, tf.Tensor>();
    try {
      for (const [name, v] of this.weights) {
        saved.set(name, v.clone());
        v.assign(this.averages.get(name)!);
      }
      return await fn();
    } finally {
      for (const [name, t] of saved) this.weights.get(name)!.assign(t);
      tf.dispose([...saved.values()]);
    }
  }

  /** Copies the averaged weights into other variables of the same names and shapes (e.g. an exported model). */
  copyTo(variables: ReadonlyMap<string, tf.Variable>): void {
    this.check();
    for (const [name, avg] of this.averages) {
      const target = variables.get(name);
      if (!target) throw new InvalidArgumentError(`copyTo: no variable "${name}"`);
      if (target.shape.join() !== avg.shape.join()) throw new InvalidArgumentError(`copyTo: "${name}" is [${target.shape}], the average is [${avg.shape}]`);
      target.assign(avg);
    }
  }

  getState(): WeightAverageState {
    return { decay: this.decay, warmup: this.warmup, updates: this.count };
  }

  /** The averaged tensors, keyed like the variables (what checkpoints keep in `average.safetensors`). */
  async stateTensors(): Promise<Map<string, TensorToWrite>> {
    this.check();
    const out = new Map<string, TensorToWrite>();
    for (const [name, avg] of this.averages) out.set(name, { dtype: 'F32', shape: avg.shape, data: (await avg.data()) as Float32Array });
    return out;
  }

  /**
   * Restores a saved average. The decay and warm-up stay as constructed (a resumed run may choose another decay);
   * the update count and the tensors come from `state` / `tensors`, which must cover every variable.
   */
  setState(state: WeightAverageState, tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array | Int32Array }>): void {
    this.check();
    if (!state || !Number.isInteger(state.updates) || state.updates < 0) throw new InvalidArgumentError('weight-average state lacks a valid update count');
    for (const [name, avg] of this.averages) {
      const t = tensors.get(name);
      if (!t) throw new InvalidArgumentError(`the saved weight average has no tensor "${name}"`);
      if (t.shape.join() !== avg.shape.join()) throw new InvalidArgumentError(`saved average "${name}" is [${t.shape}], the model's is [${avg.shape}]`);
    }
    for (const [name, avg] of this.averages) {
      const t = tensors.get(name)!;
      tf.tidy(() => avg.assign(tf.tensor(t.data, avg.shape, 'float32')));
    }
    this.count = state.updates;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([...this.averages.values()]);
    this.averages.clear();
  }

  private check(): void {
    if (this.disposed) throw new InvalidArgumentError('this weight average was disposed');
  }
}

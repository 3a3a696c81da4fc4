/**
 * The engine that runs module functions on the current thread's tfjs: used by {@link DualEngine} on the main thread
 * (engine 0) and by the worker (engine 1), so both run exactly the same code path.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '../errors.js';
import type { TensorParallelContext } from './exchange.js';
import type { NamedTensors } from './protocol.js';

/** What an {@link EngineFunction} receives besides its inputs. */
export interface EngineContext {
  /**
   * The model weights by name. On engine 0 these are the caller's own tensors (as given to `setWeights`), on engine
   * 1 the worker's mirrored copies. Read them; never dispose them.
   */
  readonly weights: Readonly<NamedTensors>;
  /**
   * Per-engine state kept across calls (e.g. a KV cache: engine 0 keeps the conditional branch's, engine 1 the
   * unconditional one's). The call runs inside `tf.tidy`: tensors stored here must be `tf.keep()`-ed, and the
   * function that replaces them disposes the old ones. Cleared by `DualEngine.resetState()`.
   */
  readonly state: Map<string, unknown>;
  /** 0 on the main thread, 1 in the worker. */
  readonly engineIndex: 0 | 1;
  /**
   * Set in calls made by `DualEngine.runTensorParallel`: this engine's share of one computation split over both
   * engines, and the all-reduce that joins the shares.
   */
  readonly parallel?: TensorParallelContext;
}

/**
 * A function a {@link DualEngine} can run: plain tfjs code (typically the model's forward pass or loss), exported
 * by name from the engine module. It must be deterministic given (weights, inputs, options) and must not depend on
 * which engine runs it, except through `ctx.state`. `options` must survive structured cloning (plain data).
 * Return one tensor or a record of tensors; for `valueAndGrads`, a scalar loss that is a **mean over the batch**.
 */
export type EngineFunction = (ctx: EngineContext, inputs: NamedTensors, options: unknown) => tf.Tensor | NamedTensors;

/** Output key used on the wire when a function returns a single tensor. */
export const SINGLE_OUTPUT = '__single__';

export class LocalEngine {
  readonly weights: NamedTensors = {};
  readonly state = new Map<string, unknown>();
  /** Weights this engine owns (the worker's copies), disposed when replaced. Engine 0 borrows the caller's. */
  private readonly owned = new Set<string>();

  constructor(
    private readonly module: Record<string, unknown>,
    readonly engineIndex: 0 | 1,
  ) {}

  private fn(name: string): EngineFunction {
    const f = this.module[name];
    if (typeof f !== 'function') {
      const names = Object.keys(this.module).filter((k) => typeof this.module[k] === 'function');
      throw new InvalidArgumentError(`engine module has no function "${name}" (exported functions: ${names.join(', ') || 'none'})`);
    }
    return f as EngineFunction;
  }

  private ctx(weights: Readonly<NamedTensors> = this.weights, parallel?: TensorParallelContext): EngineContext {
    return { weights, state: this.state, engineIndex: this.engineIndex, ...(parallel ? { parallel } : {}) };
  }

  /** Sets weights; `own` means this engine disposes them when they are replaced or on dispose. */
  setWeights(weights: NamedTensors, own: boolean, replace: boolean): void {
    if (replace) {
      for (const name of Object.keys(this.weights)) if (!(name in weights)) this.dropWeight(name);
    }
    for (const [name, t] of Object.entries(weights)) {
      if (this.weights[name] !== t) this.dropWeight(name);
      this.weights[name] = t;
      if (own) this.owned.add(name);
    }
  }

  private dropWeight(name: string): void {
    if (this.owned.has(name)) this.weights[name]?.dispose();
    this.owned.delete(name);
    delete this.weights[name];
  }

  /** Runs `fn`; the result is a single tensor or a record, owned by the caller. */
  call(name: string, inputs: NamedTensors, options: unknown, parallel?: TensorParallelContext): tf.Tensor | NamedTensors {
    const f = this.fn(name);
    return tf.tidy(() => f(this.ctx(this.weights, parallel), inputs, options));
  }

  /**
   * Value and gradients of the scalar returned by `fn` (or its `loss` output) with respect to the named weights
   * (default: every float32 weight). When `fn` returns a record, its other **scalar** outputs come back as `aux`
   * (e.g. the parts of a loss), owned by the caller.
   */
  valueAndGrads(name: string, inputs: NamedTensors, options: unknown, weightNames?: string[]): { value: tf.Scalar; grads: NamedTensors; aux: NamedTensors } {
    const f = this.fn(name);
    const names = weightNames ?? Object.keys(this.weights).filter((n) => this.weights[n].dtype === 'float32');
    for (const n of names) if (!this.weights[n]) throw new InvalidArgumentError(`valueAndGrads: no weight named "${n}"`);
    const aux: NamedTensors = {};
    try {
      const { value, grads } = tf.valueAndGrads((...ws: tf.Tensor[]) => {
        const weights: NamedTensors = { ...this.weights };
        names.forEach((n, i) => (weights[n] = ws[i]));
        const out = f(this.ctx(weights), inputs, options);
        const loss = out instanceof tf.Tensor ? out : out.loss;
        if (!loss || loss.rank !== 0) throw new InvalidArgumentError(`valueAndGrads: "${name}" must return a scalar loss (or a record with a scalar "loss")`);
        if (!(out instanceof tf.Tensor)) {
          for (const [k, t] of Object.entries(out)) if (k !== 'loss' && t.rank === 0) aux[k] = tf.keep(t);
        }
        return loss as tf.Scalar;
      })(names.map((n) => this.weights[n]));
      const named: NamedTensors = {};
      names.forEach((n, i) => (named[n] = grads[i]));
      return { value: value as tf.Scalar, grads: named, aux };
    } catch (e) {
      tf.dispose(Object.values(aux));
      throw e;
    }
  }

  resetState(): void {
    // Tensors anywhere inside the stored values (records, arrays) are disposed.
    for (const v of this.state.values()) tf.dispose(v as tf.TensorContainer);
    this.state.clear();
  }

  dispose(): void {
    this.resetState();
    for (const name of Object.keys(this.weights)) this.dropWeight(name);
  }
}

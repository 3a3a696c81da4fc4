import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, type TensorToWrite } from '@showo/runtime';

/** Hyper-parameters of {@link AdamW} (PyTorch names and defaults, weight decay as in the Show-o configs). */
export interface AdamWConfig {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay λ: each step multiplies parameters by (1 − lr·λ). */
  weightDecay?: number;
  /**
   * Parameters excluded from weight decay. Default: every parameter of rank ≤ 1 (biases, LayerNorm gains and
   * shifts), the usual convention (the official trainer lists bias and norm weights as `no_decay`).
   */
  noDecay?: (name: string, variable: tf.Variable) => boolean;
}

/** Resolved hyper-parameters (what a checkpoint records). */
export interface AdamWHyper {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** Moments of one parameter. */
interface Moments {
  m: tf.Variable;
  v: tf.Variable;
  decay: boolean;
}

/** The optimiser's host-side state (tensors are saved separately by {@link AdamW.stateTensors}). */
export interface AdamWState {
  /** Updates applied so far (the `t` of the bias corrections). */
  step: number;
  hyper: AdamWHyper;
}

const defaultNoDecay = (_name: string, v: tf.Variable) => v.rank <= 1;

/**
 * AdamW (Loshchilov & Hutter) with decoupled weight decay, written out so its state is ours to save:
 * the update is PyTorch's `torch.optim.AdamW` step exactly —
 * `p ← p·(1 − lr·λ)`, `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`,
 * `p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε)`.
 * Moments are `tf.Variable`s updated in place, so the tensor count stays constant across steps.
 */
export class AdamW {
  readonly hyper: AdamWHyper;
  private readonly noDecay: (name: string, variable: tf.Variable) => boolean;
  private readonly moments = new Map<string, Moments>();
  private t = 0;

  constructor(config: AdamWConfig = {}) {
    this.hyper = {
      beta1: config.beta1 ?? 0.9,
      beta2: config.beta2 ?? 0.999,
      eps: config.eps ?? 1e-8,
      weightDecay: config.weightDecay ?? 0.01,
    };
    const { beta1, beta2, eps, weightDecay } = this.hyper;
    if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) throw new InvalidArgumentError(`AdamW betas must lie in [0, 1), got ${beta1}, ${beta2}`);
    if (!(eps > 0) || !(weightDecay >= 0)) throw new InvalidArgumentError(`AdamW needs eps > 0 and weightDecay ≥ 0, got ${eps}, ${weightDecay}`);
    this.noDecay = config.noDecay ?? defaultNoDecay;
  }

  /** Updates applied so far. */
  get step(): number {
    return this.t;
  }

  private momentsFor(name: string, variable: tf.Variable): Moments {
    let s = this.moments.get(name);
    if (!s) {
      s = {
        m: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
        v: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
        decay: !this.noDecay(name, variable),
      };
      this.moments.set(name, s);
    }
    return s;
  }

  /**
   * Creates the (zero) moments of every parameter now rather than at its first update, so the tensor count does
   * not change after the first step. Optional.
   */
  init(params: ReadonlyMap<string, tf.Variable>): void {
    for (const [name, p] of params) this.momentsFor(name, p);
  }

  /**
   * Applies one update with learning rate `lr`. `grads` maps parameter names to their gradients (same names as
   * `params`); a parameter without a gradient is left alone (as PyTorch skips `grad is None`).
   */
  apply(params: ReadonlyMap<string, tf.Variable>, grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    this.t++;
    const { beta1, beta2, eps, weightDecay } = this.hyper;
    const bc1 = 1 - beta1 ** this.t;
    const bc2Sqrt = Math.sqrt(1 - beta2 ** this.t);
    const stepSize = lr / bc1;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      const s = this.momentsFor(name, p);
      tf.tidy(() => {
        const m = tf.add(tf.mul(s.m, beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(s.v, beta2), tf.mul(tf.square(g), 1 - beta2));
        const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), eps);
        const decayed = s.decay && weightDecay > 0 ? tf.mul(p, 1 - lr * weightDecay) : p;
        p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), stepSize)));
        s.m.assign(m);
        s.v.assign(v);
      });
    }
  }

  /** Host-side state for a checkpoint. */
  getState(): AdamWState {
    return { step: this.t, hyper: { ...this.hyper } };
  }

  /** The moment tensors, named `m.<param>` / `v.<param>`, read to the host for a checkpoint. */
  async stateTensors(): Promise<Map<string, TensorToWrite>> {
    const out = new Map<string, TensorToWrite>();
    for (const [name, s] of this.moments) {
      out.set(`m.${name}`, { dtype: 'F32', shape: s.m.shape, data: (await s.m.data()) as Float32Array });
      out.set(`v.${name}`, { dtype: 'F32', shape: s.v.shape, data: (await s.v.data()) as Float32Array });
    }
    return out;
  }

  /**
   * Restores state saved by {@link getState} / {@link stateTensors}. `params` gives the shapes to check against;
   * a moment for an unknown parameter or of the wrong shape is an `InvalidArgumentError` (the checkpoint loader
   * turns it into a mismatch error). Existing moments are replaced.
   */
  setState(state: AdamWState, tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array | Int32Array }>, params: ReadonlyMap<string, tf.Variable>): void {
    for (const key of ['beta1', 'beta2', 'eps', 'weightDecay'] as const) {
      if (state.hyper?.[key] !== this.hyper[key]) {
        throw new InvalidArgumentError(`optimizer ${key} is ${this.hyper[key]} but the checkpoint has ${state.hyper?.[key]}`);
      }
    }
    const restored = new Map<string, Moments>();
    try {
      for (const [name, p] of params) {
        const m = tensors.get(`m.${name}`);
        const v = tensors.get(`v.${name}`);
        if (!m && !v) continue; // never updated (no gradient so far)
        if (!m || !v) throw new InvalidArgumentError(`optimizer state of "${name}" is incomplete`);
        for (const t of [m, v]) {
          if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
            throw new InvalidArgumentError(`optimizer state of "${name}" has shape [${t.shape.join(',')}], parameter [${p.shape.join(',')}]`);
          }
        }
        restored.set(name, {
          m: tf.tidy(() => tf.variable(tf.tensor(m.data, p.shape, 'float32'), false)),
          v: tf.tidy(() => tf.variable(tf.tensor(v.data, p.shape, 'float32'), false)),
          decay: !this.noDecay(name, p),
        });
      }
      for (const key of tensors.keys()) {
        const name = key.slice(2);
        if (!params.has(name)) throw new InvalidArgumentError(`optimizer state names unknown parameter "${name}"`);
      }
    } catch (e) {
      for (const s of restored.values()) {
        s.m.dispose();
        s.v.dispose();
      }
      throw e;
    }
    this.disposeMoments();
    for (const [k, s] of restored) this.moments.set(k, s);
    this.t = state.step;
  }

  private disposeMoments(): void {
    for (const s of this.moments.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.moments.clear();
  }

  /** Frees the moment tensors. */
  dispose(): void {
    this.disposeMoments();
    this.t = 0;
  }
}

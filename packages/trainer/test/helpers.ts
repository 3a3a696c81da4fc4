/**
 * Test fixtures of the trainer: a tiny regression model whose loss also draws host randomness (so resuming must
 * restore a random generator), and a resumable data stream.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, SeededRandom } from '@showo/runtime';
import type { JsonValue, LossOutput, Stateful, TrainableModel } from '@showo/trainer';

export async function useWasm(): Promise<void> {
  await initBackend('wasm');
}

export interface ToyBatch {
  x: Float32Array; // [n, 4]
  y: Float32Array; // [n, 2]
  n: number;
}

/** y = x·W* + noise, drawn from a seeded generator; position = generator state + batches served. */
export class ToyData implements Iterator<ToyBatch>, Stateful {
  private rng: SeededRandom;
  served = 0;
  constructor(
    seed: number,
    private readonly batch = 8,
  ) {
    this.rng = new SeededRandom(seed);
  }
  next(): IteratorResult<ToyBatch> {
    const n = this.batch;
    const x = new Float32Array(n * 4);
    const y = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 4; j++) x[i * 4 + j] = this.rng.normal();
      y[i * 2] = x[i * 4] - 2 * x[i * 4 + 1] + 0.1 * this.rng.normal();
      y[i * 2 + 1] = 0.5 * x[i * 4 + 2] + x[i * 4 + 3];
    }
    this.served++;
    return { done: false, value: { x, y, n } };
  }
  [Symbol.iterator](): Iterator<ToyBatch> {
    return this;
  }
  getState(): JsonValue {
    return { rng: this.rng.getState().map((v) => (Number.isNaN(v) ? null : v)), served: this.served };
  }
  setState(state: JsonValue): void {
    const s = state as { rng: number[]; served: number };
    this.rng.setState(s.rng);
    this.served = s.served;
  }
}

/** A 4→8→2 MLP; its loss drops a random subset of hidden units drawn from `dropoutRng` (host randomness). */
export class ToyModel implements TrainableModel<ToyBatch> {
  readonly w1: tf.Variable;
  readonly b1: tf.Variable;
  readonly w2: tf.Variable;
  readonly dropoutRng: SeededRandom;
  constructor(seed: number) {
    const r = new SeededRandom(seed);
    const init = (shape: number[], scale: number) => tf.tidy(() => tf.variable(tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * r.normal()), shape), true));
    this.w1 = init([4, 8], 0.5);
    this.b1 = init([8], 0.1);
    this.w2 = init([8, 2], 0.5);
    this.dropoutRng = new SeededRandom(seed + 1000);
  }
  trainableVariables() {
    return { w1: this.w1, b1: this.b1, w2: this.w2 };
  }
  lossFn(b: ToyBatch): LossOutput {
    const keep = new Float32Array(8).map(() => (this.dropoutRng.next() < 0.9 ? 1 / 0.9 : 0));
    const x = tf.tensor2d(b.x, [b.n, 4]);
    const y = tf.tensor2d(b.y, [b.n, 2]);
    const h = tf.mul(tf.relu(tf.add(tf.matMul(x, this.w1), this.b1)), tf.tensor1d(keep));
    const pred = tf.matMul(h, this.w2);
    const mse = tf.mean(tf.square(tf.sub(pred, y))) as tf.Scalar;
    const l1 = tf.mul(tf.mean(tf.abs(this.w2)), 0.01) as tf.Scalar;
    return { total: tf.add(mse, l1) as tf.Scalar, parts: { mse, l1 }, tokens: b.n };
  }
  dispose(): void {
    this.w1.dispose();
    this.b1.dispose();
    this.w2.dispose();
  }
}

/**
 * A two-party all-reduce over shared memory: what lets the main thread's engine and the worker's engine split *one*
 * forward pass (tensor parallelism) instead of running two independent ones. Each side writes its partial result into
 * its own slot of a `SharedArrayBuffer`, publishes a sequence number with `Atomics`, blocks until the other side's
 * number catches up, and adds the two partials. The sum is the same on both sides bit for bit (float addition is
 * commutative), so both engines continue from identical hidden states.
 *
 * Every side keeps two slots and alternates between them, so a fast side that has already moved on to the next
 * exchange cannot overwrite a partial the slow side has not read yet (to write slot k+2 it must first see the slow
 * side publish k+1, which happens only after the slow side has read k).
 *
 * Blocking waits are fine here: Node allows `Atomics.wait` on the main thread, and both sides only wait for each
 * other inside one call. A side that fails sets the shared abort flag, so the other one stops waiting and throws
 * instead of hanging; a wait also gives up after `timeoutMs`.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, ShowoError } from '../errors.js';

/** The other side failed, or did not answer in time. */
export class ExchangeAbortedError extends ShowoError {
  constructor(message: string) {
    super('EXCHANGE_ABORTED', message);
  }
}

/** What an engine function sees of the tensor-parallel split (`ctx.parallel`). */
export interface TensorParallelContext {
  /** This engine's share: 0 on the main thread, 1 in the worker. */
  readonly rank: 0 | 1;
  /** Engines sharing the work: 2, or 1 when everything runs on one engine (then `allReduceSum` is the identity). */
  readonly size: 1 | 2;
  /** The sum of this engine's `t` and the other engine's tensor of the same shape, on both engines. */
  allReduceSum(t: tf.Tensor): tf.Tensor;
}

const HEADER_INTS = 4; // [published by rank 0, published by rank 1, abort flag, capacity]
const ABORT = 2;

export class PairExchange {
  readonly buffer: SharedArrayBuffer;
  /** Largest number of float32 values one exchange can carry. */
  readonly capacity: number;
  private readonly control: Int32Array;
  private readonly data: Float32Array;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.control = new Int32Array(buffer, 0, HEADER_INTS);
    this.capacity = this.control[3]!;
    this.data = new Float32Array(buffer, HEADER_INTS * 4, 4 * this.capacity);
  }

  /** Shared memory for exchanges of up to `capacity` float32 values (4 slots of that size). */
  static create(capacity: number): PairExchange {
    if (!Number.isInteger(capacity) || capacity < 1) throw new InvalidArgumentError(`PairExchange capacity must be a positive integer, got ${capacity}`);
    const buffer = new SharedArrayBuffer(HEADER_INTS * 4 + 4 * 4 * capacity);
    new Int32Array(buffer, 0, HEADER_INTS)[3] = capacity;
    return new PairExchange(buffer);
  }

  /** The other side's view of an exchange made by {@link create}. */
  static attach(buffer: SharedArrayBuffer): PairExchange {
    return new PairExchange(buffer);
  }

  get aborted(): boolean {
    return Atomics.load(this.control, ABORT) !== 0;
  }

  /** Tells the other side to stop waiting (it throws {@link ExchangeAbortedError}). */
  abort(): void {
    Atomics.store(this.control, ABORT, 1);
    Atomics.notify(this.control, 0);
    Atomics.notify(this.control, 1);
  }

  /** Back to the initial state. Only when neither side is inside an exchange (after a failed call has settled). */
  reset(): void {
    Atomics.store(this.control, 0, 0);
    Atomics.store(this.control, 1, 0);
    Atomics.store(this.control, ABORT, 0);
  }

  /**
   * `t` + the other side's tensor (same shape, float32), as a new tensor owned by the caller. Blocks until the
   * other side has published its part.
   */
  allReduceSum(t: tf.Tensor, rank: 0 | 1, timeoutMs = 60_000): tf.Tensor {
    const n = t.size;
    if (n > this.capacity) {
      this.abort();
      throw new InvalidArgumentError(`all-reduce of ${n} values exceeds the exchange's capacity of ${this.capacity}`);
    }
    if (this.aborted) throw new ExchangeAbortedError('the other engine failed; this tensor-parallel call is aborted');
    const seq = Atomics.load(this.control, rank) + 1;
    const parity = seq & 1;
    this.data.set(t.dataSync() as Float32Array, (rank * 2 + parity) * this.capacity);
    Atomics.store(this.control, rank, seq);
    Atomics.notify(this.control, rank);
    const other = 1 - rank;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = Atomics.load(this.control, other);
      if (seen >= seq) break;
      if (this.aborted) throw new ExchangeAbortedError('the other engine failed; this tensor-parallel call is aborted');
      if (Date.now() > deadline) {
        this.abort();
        throw new ExchangeAbortedError(`the other engine did not reach exchange ${seq} within ${timeoutMs} ms`);
      }
      Atomics.wait(this.control, other, seen, 50);
    }
    const start = (other * 2 + parity) * this.capacity;
    const theirs = this.data.slice(start, start + n);
    return tf.tidy(() => tf.add(t, tf.tensor(theirs, t.shape, 'float32')));
  }

  /** The context an engine function receives on `rank`. */
  context(rank: 0 | 1): TensorParallelContext {
    return { rank, size: 2, allReduceSum: (t) => this.allReduceSum(t, rank) };
  }
}

/** The context of a call that runs on one engine only: nothing to exchange. */
export const SINGLE_ENGINE: TensorParallelContext = Object.freeze({ rank: 0, size: 1, allReduceSum: (t: tf.Tensor) => t.clone() });

/**
 * The one place where generations become streams. A generation is an async loop of synchronous steps; this
 * wraps it in a cold Observable that
 * - starts the loop on subscription (nothing runs before),
 * - yields to the event loop between steps, so an unsubscribe or an abort takes effect before the next step,
 * - owns the resources the loop registers (sessions holding cache tensors) and disposes them when the loop
 *   ends: on completion, on error, on unsubscribe and on abort — immediately when the loop is parked between
 *   steps, else as soon as the running step returns.
 */
import { Observable, fromEvent, takeUntil } from 'rxjs';

/** Something to free when the generation ends. */
export interface Disposable {
  dispose(): void;
}

/** What the loop gets. */
export interface GenerationContext<E> {
  /** Sends an event to the subscriber. */
  emit(event: E): void;
  /** True once the subscriber is gone or the signal aborted: the loop must return. */
  readonly cancelled: boolean;
  /** Registers a resource to dispose when the generation ends (returns it). */
  own<R extends Disposable>(resource: R): R;
  /**
   * Parks the loop until the next macrotask (between steps). Rejects with an internal cancellation marker when
   * the generation was cancelled meanwhile (its resources may already be freed), which ends the loop quietly.
   */
  yield(): Promise<void>;
}

/** Thrown out of `yield()` after a cancellation; never reaches a subscriber. */
const CANCELLED = Symbol('showo.sampler.cancelled');

const nextMacrotask: () => Promise<void> =
  typeof setImmediate === 'function' ? () => new Promise((resolve) => setImmediate(resolve)) : () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * A cold Observable around `run`. Errors thrown by `run` go to the subscriber (after resources are freed); an
 * abort of `signal` completes the stream (`takeUntil(fromEvent(signal, 'abort'))`, the last operator).
 */
export function generation<E>(run: (ctx: GenerationContext<E>) => Promise<void>, signal?: AbortSignal): Observable<E> {
  const source = new Observable<E>((subscriber) => {
    let stopped = false;
    let parked = false;
    const resources: Disposable[] = [];
    const release = (): void => {
      while (resources.length) {
        try {
          resources.pop()!.dispose();
        } catch {
          /* disposing must never mask the real outcome */
        }
      }
    };
    const ctx: GenerationContext<E> = {
      emit: (event) => {
        if (!stopped) subscriber.next(event);
      },
      get cancelled() {
        return stopped || subscriber.closed || signal?.aborted === true;
      },
      own: (resource) => {
        resources.push(resource);
        if (stopped) release();
        return resource;
      },
      yield: async () => {
        parked = true;
        try {
          await nextMacrotask();
        } finally {
          parked = false;
        }
        if (ctx.cancelled) throw CANCELLED;
      },
    };
    void (async () => {
      try {
        if (signal?.aborted) {
          subscriber.complete(); // takeUntil never sees an abort that happened before subscription
          return;
        }
        await run(ctx);
        release();
        if (!ctx.cancelled) subscriber.complete();
      } catch (err) {
        release();
        if (err === CANCELLED) {
          if (!subscriber.closed) subscriber.complete(); // e.g. aborted while parked, before takeUntil saw it
        } else if (!stopped) subscriber.error(err);
      } finally {
        release();
      }
    })();
    return () => {
      stopped = true;
      // Parked between steps: nothing is in flight, so free now rather than on the next macrotask.
      if (parked) release();
    };
  });
  return signal ? source.pipe(takeUntil(fromEvent(signal, 'abort'))) : source;
}

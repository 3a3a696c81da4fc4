/**
 * The facade's streams: cold Observables of the sampler's typed events that can also be awaited for their result.
 * Each `result()` (and `image()`, `answer()`, …) call subscribes once, so a caller who wants both progress and the
 * result passes an `onEvent` callback instead of subscribing separately (which would run the generation twice).
 */
import { Observable, type Subscription } from 'rxjs';
import type { ImageGenerationEvent, ImageResult, RgbImage, TextGenerationEvent, TextResult } from '@showo/sampler';
import { NoResultError } from './errors.js';

/** An event stream that ends with `{ type: 'done', result }`, awaitable through {@link result}. */
export class ShowoStream<E extends { type: string }, R> extends Observable<E> {
  constructor(
    private readonly events: Observable<E>,
    private readonly what: string,
  ) {
    super((subscriber) => events.subscribe(subscriber));
  }

  /**
   * Runs the stream and resolves with the result of its `done` event; `onEvent` sees every event first. Rejects
   * with the stream's error, with what `onEvent` throws (the generation is then cancelled), or with
   * {@link NoResultError} when the stream completes without a result (aborted).
   */
  result(onEvent?: (event: E) => void): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let done: { result: R } | undefined;
      let failed = false;
      let sub: Subscription | undefined = undefined;
      sub = this.events.subscribe({
        next: (e) => {
          if (failed) return;
          try {
            onEvent?.(e);
          } catch (err) {
            failed = true;
            sub?.unsubscribe();
            reject(err);
            return;
          }
          if (e.type === 'done') done = { result: (e as unknown as { result: R }).result };
        },
        error: (err) => {
          if (!failed) reject(err);
        },
        complete: () => {
          if (failed) return;
          if (done) resolve(done.result);
          else reject(new NoResultError(this.what));
        },
      });
      // `onEvent` may throw during subscribe (the first event is emitted synchronously), before `sub` existed.
      if (failed) sub.unsubscribe();
    });
  }
}

/** A stream of image-generation events. */
export class ImageStream extends ShowoStream<ImageGenerationEvent, ImageResult> {
  /** The generated images (one per prompt). */
  async images(onEvent?: (event: ImageGenerationEvent) => void): Promise<RgbImage[]> {
    const r = await this.result(onEvent);
    if (!r.images) throw new NoResultError('image decoding');
    return r.images;
  }

  /** The first generated image. */
  async image(onEvent?: (event: ImageGenerationEvent) => void): Promise<RgbImage> {
    return (await this.images(onEvent))[0]!;
  }
}

/** A stream of answer (decoding) events. */
export class AnswerStream extends ShowoStream<TextGenerationEvent, TextResult> {
  /** The answers (one per question), trimmed. */
  async answers(onEvent?: (event: TextGenerationEvent) => void): Promise<string[]> {
    const r = await this.result(onEvent);
    return (r.texts ?? []).map((t) => t.trim());
  }

  /** The first answer, trimmed. */
  async answer(onEvent?: (event: TextGenerationEvent) => void): Promise<string> {
    return (await this.answers(onEvent))[0] ?? '';
  }
}

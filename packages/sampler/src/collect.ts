import { lastValueFrom, filter, map, type Observable } from 'rxjs';
import type { ImageGenerationEvent, ImageResult, TextGenerationEvent, TextResult } from './events.js';

/** The result of an image stream (resolves on `done`; rejects on error; undefined if cancelled first). */
export function imageResult(events: Observable<ImageGenerationEvent>): Promise<ImageResult | undefined> {
  return lastValueFrom(
    events.pipe(
      filter((e): e is Extract<ImageGenerationEvent, { type: 'done' }> => e.type === 'done'),
      map((e) => e.result),
    ),
    { defaultValue: undefined },
  );
}

/** The result of a text stream (resolves on `done`; rejects on error; undefined if cancelled first). */
export function textResult(events: Observable<TextGenerationEvent>): Promise<TextResult | undefined> {
  return lastValueFrom(
    events.pipe(
      filter((e): e is Extract<TextGenerationEvent, { type: 'done' }> => e.type === 'done'),
      map((e) => e.result),
    ),
    { defaultValue: undefined },
  );
}

import type { Observable } from 'rxjs';
import type { ImageGenerationEvent, TextGenerationEvent } from '../events.js';
import type { ImagePipelineDeps } from './image-common.js';
import { edit, extrapolate, inpaint, textToImage, type EditRequest, type ExtrapolateRequest, type InpaintRequest, type TextToImageRequest } from './image-tasks.js';
import { generateTokens, understand, type GenerateTokensRequest, type TextPipelineDeps, type UnderstandRequest } from './text.js';

/** Everything the pipelines need: a model that serves both MaskGIT and decoding (e.g. showo-core's `ShowoModel`). */
export type ShowoPipelineDeps = ImagePipelineDeps & TextPipelineDeps;

/**
 * The task pipelines bound to one model, prompting and codec — the object the DI module provides, and the
 * convenient entry for users who do not wire functions by hand. Every method validates synchronously (typed
 * errors) and returns a cold Observable.
 */
export class ShowoPipelines {
  constructor(readonly deps: ShowoPipelineDeps) {}

  textToImage(request: TextToImageRequest): Observable<ImageGenerationEvent> {
    return textToImage(this.deps, request);
  }

  inpaint(request: InpaintRequest): Observable<ImageGenerationEvent> {
    return inpaint(this.deps, request);
  }

  extrapolate(request: ExtrapolateRequest): Observable<ImageGenerationEvent> {
    return extrapolate(this.deps, request);
  }

  edit(request: EditRequest): Observable<ImageGenerationEvent> {
    return edit(this.deps, request);
  }

  understand(request: UnderstandRequest): Observable<TextGenerationEvent> {
    return understand(this.deps, request);
  }

  generateTokens(request: GenerateTokensRequest): Observable<TextGenerationEvent> {
    return generateTokens(this.deps, request);
  }
}

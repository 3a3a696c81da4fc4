/** @packageDocumentation
 * Batteries included: Show-o from a model folder in one call, without wiring dependency injection by hand.
 *
 * ```ts
 * // createShowo and writePngFile are this package's exports
 * const showo = await createShowo();                        // SHOWO_MODEL or the embedded Shapes World model
 * const image = await showo.t2i('a red circle').image();    // await the result…
 * showo.t2i('a blue square', { seed: 1 }).subscribe((e) => e.type === 'step' && console.log(e.step)); // …or stream it
 * const answer = await showo.answer(image, 'what color is the circle?').answer();
 * writePngFile('out.png', image);
 * await showo.dispose();
 * ```
 *
 * - {@link createShowo} → {@link Showo}: `t2i`, `answer`, `inpaint`, `extrapolate`, `edit`, `howto`, each a cold
 *   stream of the sampler's typed events ({@link ImageStream}, {@link AnswerStream}, {@link HowtoStream}) with
 *   promise helpers (`result()`, `image()`, `answer()`); `dispose()`.
 * - Model folders: {@link resolveModelBundle} (check and describe, no tensors), {@link loadModelBundle} (weights too),
 *   {@link defaultModelDir}; the embedded and the official layouts; {@link ModelBundleError} names missing files.
 * - {@link createShowoContainer} / {@link showoModule} / {@link SHOWO_TYPES}: the container built from every
 *   package's module, for users who want to rebind a part.
 * - {@link writeRandomModelBundle}: a tiny random model folder (tests, plumbing demos).
 */
export * from './errors.js';
export * from './bundle.js';
export * from './random-bundle.js';
export * from './images.js';
export * from './stream.js';
export * from './di.js';
export * from './facade.js';

// The sampler's event and result types the streams carry, so users of the facade need no second import.
export type {
  HowtoEvent,
  HowtoResult,
  ImageGenerationEvent,
  ImageResult,
  PixelMask,
  RgbImage,
  TextGenerationEvent,
  TextResult,
} from '@showo/sampler';

/** @packageDocumentation
 * Shapes World: synthetic scenes, renderer, language, detector and evaluator.
 */
export {};

/** @packageDocumentation
 * Shared runtime: backend selection, safetensors, RNG, fast tensor primitives.
 */
export {};

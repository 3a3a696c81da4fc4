/** @packageDocumentation
 * The Show-o transformer (Phi-1.5 + QK-norm) with KV and prefix caches.
 */
export {};

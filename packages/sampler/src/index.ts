/** @packageDocumentation
 * MaskGIT and autoregressive samplers and task pipelines as streams.
 */
export {};

/** @packageDocumentation
 * MAGVIT-v2 image tokenizer with lookup-free quantisation.
 */
export {};

/** @packageDocumentation
 * Omni-attention allow-masks (causal text, bidirectional image blocks).
 */
export {};

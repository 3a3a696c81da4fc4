/** @packageDocumentation
 * Text tokenizers, token layout, task registry and Show-o unified prompting.
 */
export {};

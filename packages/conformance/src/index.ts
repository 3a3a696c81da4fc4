/** @packageDocumentation
 * Conformance runner against fixtures of the official implementation.
 */
export {};

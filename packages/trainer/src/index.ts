/** @packageDocumentation
 * NTP + MTP training, optimisers, checkpoints.
 */
export {};

/** @packageDocumentation
 * Omni-attention allow-masks (causal text, bidirectional image blocks).
 *
 * - {@link AllowMask}: `[B, Lq, Lk]` 0/1 masks in a `Uint8Array`; slicing and stacking helpers for prefix caches
 *   and CFG batches; {@link toTensor} / {@link toAdditiveTensor} for the model.
 * - Official builders, exact: {@link createAttentionMaskPredictNext}, {@link createAttentionMaskForMmu},
 *   {@link createAttentionMaskLvg}.
 * - The general builder: {@link buildOmniMask} from a {@link Segment} description (or {@link segmentsFromIds}),
 *   any interleaving of text and image blocks; {@link appendRows} / {@link extendMask} for cached decoding.
 * - {@link OMNI_ATTENTION_TYPES} / {@link omniAttentionModule}: dependency injection.
 */
export * from './types.js';
export * from './mask.js';
export * from './official.js';
export * from './omni.js';
export * from './tensor.js';
export * from './di.js';

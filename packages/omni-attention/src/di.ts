import { ContainerModule } from 'inversify';
import { createAttentionMaskForMmu, createAttentionMaskLvg, createAttentionMaskPredictNext } from './official.js';
import { appendRows, buildOmniMask, buildOmniMaskFromIds, extendMask, segmentsFromIds } from './omni.js';

/**
 * The mask builders as one service, for code that receives them by injection (e.g. to swap in a different rule
 * set). Numeric code may just import the functions.
 */
export interface MaskBuilder {
  build: typeof buildOmniMask;
  fromIds: typeof buildOmniMaskFromIds;
  segmentsFromIds: typeof segmentsFromIds;
  appendRows: typeof appendRows;
  extend: typeof extendMask;
  predictNext: typeof createAttentionMaskPredictNext;
  forMmu: typeof createAttentionMaskForMmu;
  lvg: typeof createAttentionMaskLvg;
}

/** The default {@link MaskBuilder}: this package's functions. */
export const defaultMaskBuilder: MaskBuilder = Object.freeze({
  build: buildOmniMask,
  fromIds: buildOmniMaskFromIds,
  segmentsFromIds,
  appendRows,
  extend: extendMask,
  predictNext: createAttentionMaskPredictNext,
  forMmu: createAttentionMaskForMmu,
  lvg: createAttentionMaskLvg,
});

/** Service identifiers of `@showo/omni-attention`. */
export const OMNI_ATTENTION_TYPES = {
  /** {@link MaskBuilder}. */
  MaskBuilder: Symbol.for('showo.omni-attention.MaskBuilder'),
} as const;

/** The container module of `@showo/omni-attention`: binds {@link MaskBuilder} (default {@link defaultMaskBuilder}). */
export function omniAttentionModule(options: { maskBuilder?: MaskBuilder } = {}): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<MaskBuilder>(OMNI_ATTENTION_TYPES.MaskBuilder).toConstantValue(options.maskBuilder ?? defaultMaskBuilder);
  });
}

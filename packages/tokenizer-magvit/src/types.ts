import type * as tf from '@tensorflow/tfjs';

/** One half of the autoencoder (the official `VQGANEncoder` / `VQGANDecoder` constructor arguments). */
export interface MagvitPartConfig {
  /** Base channel count; level i has `ch · chMult[i]` channels. */
  ch: number;
  chMult: number[];
  /** ResNet blocks per level (the official code takes a list, one entry per level). */
  numResBlocks: number[];
  /** A level whose resolution is listed gets an AttnBlock after each of its ResNet blocks. */
  attnResolutions: number[];
  /** Image channels read by the encoder's conv_in. */
  inCh: number;
  /** Channels written by the decoder's conv_out: 3 for RGB, K for a K-colour palette head. */
  outCh: number;
  /** Image resolution the part was built for; only decides where attention sits. */
  resolution: number;
  zChannels: number;
}

/** What the decoder predicts: RGB values, or logits over the colours of a fixed palette. */
export type OutputMode = 'rgb' | 'palette';

/** An RGB colour with components in 0..255. */
export type PaletteColour = readonly [number, number, number];

/** Full tokenizer config (camelCase; files use the official snake_case names, see `config.ts`). */
export interface MagvitConfig {
  encoder: MagvitPartConfig;
  decoder: MagvitPartConfig;
  /** Bits per code (D); the codebook has 2^D entries and the latent has D channels. */
  codebookDim: number;
  /** Quantiser training terms (official `LFQuantizer` defaults: 0.25, 0.1, 0.1). */
  beta: number;
  entropyMultiplier: number;
  commitLossMultiplier: number;
  /** GroupNorm groups (official: 32) and epsilon (official: 1e-6). */
  normGroups: number;
  normEps: number;
  outputMode: OutputMode;
  /** Palette colours (outputMode 'palette'): decoder.outCh must equal its length. */
  palette?: PaletteColour[];
  /**
   * Palette mode: regions of one colour smaller than this many pixels are relabelled with their surroundings'
   * colour when codes are decoded into images (`despecklePalette`); 0 or absent: off. Flat-colour worlds have no
   * real region that small, and the decoder's stray pixels would otherwise count as objects.
   */
  paletteMinRegion?: number;
}

/** Called with the output of each named sub-module (official module names, NHWC) during a forward pass. */
export type ForwardTap = (module: string, value: tf.Tensor4D) => void;

import type { StopReason } from './autoregressive.js';
import type { RgbImage, TokenGrid } from './types.js';

/** The image tasks of the pipelines. */
export type ImageTask = 't2i' | 'inpaint' | 'extrapolate' | 'edit';

/** Emitted once, after validation and before the first step. */
export interface ImageStartEvent {
  type: 'start';
  task: ImageTask;
  batch: number;
  /** Steps per pass. */
  steps: number;
  /** Passes (extrapolation generates a wide strip in several windows; 1 otherwise). */
  passes: number;
  /** Token grid of the result. */
  grid: TokenGrid;
  /** Whether the model's prefix cache is used. */
  cached: boolean;
  /** Candidates generated per prompt when the result is reranked (step events then carry batch × candidates rows). */
  candidates?: number;
}

/** Emitted after every MaskGIT step. */
export interface ImageStepEvent {
  type: 'step';
  task: ImageTask;
  /** Step index within the pass, 0 … steps−1. */
  step: number;
  steps: number;
  /** Pass index (extrapolation), 0 otherwise. */
  pass: number;
  /** Progress (step+1)/steps. */
  ratio: number;
  /** γ(ratio): the fraction of N the schedule leaves masked. */
  maskRatio: number;
  /** The annealed temperature of this step. */
  temperature: number;
  /** Current tokens per row on {@link grid}: codes, or −1 (`MASKED`) where still masked. */
  tokens: Int32Array[];
  /** This step's complete prediction per row (every position decided). */
  sampled: Int32Array[];
  /** Positions still masked per row (in the whole result grid). */
  numMasked: number[];
  /** Tokens re-masked this step per row (`mask_len`). */
  maskLen: number[];
  grid: TokenGrid;
  /** Decoded images of `sampled`, when previews were asked for (and a codec is available). */
  preview?: RgbImage[];
}

/** How a reranked generation chose its images. */
export interface RerankOutcome {
  /** Per prompt, the model's log-probability of the prompt as the caption of each candidate. */
  scores: number[][];
  /** Per prompt, the index of the candidate kept (the highest score). */
  chosen: number[];
}

/** Emitted once the candidates of a reranked generation are scored, before the result. */
export interface ImageRerankEvent extends RerankOutcome {
  type: 'rerank';
  task: ImageTask;
  /** Every candidate's codes, prompt-major ([prompt][candidate]). */
  candidates: Int32Array[][];
}

/** The result of an image generation. */
export interface ImageResult {
  /** Final codes per row on {@link grid} (the official return value, every position decided). */
  codes: Int32Array[];
  grid: TokenGrid;
  /** Decoded images, when a codec is available and decoding was not turned off. */
  images?: RgbImage[];
  /** Present when the images were chosen from several candidates. */
  rerank?: RerankOutcome;
}

/** Last event of a successful image generation. */
export interface ImageDoneEvent {
  type: 'done';
  task: ImageTask;
  result: ImageResult;
}

/** Events of an image generation stream. */
export type ImageGenerationEvent = ImageStartEvent | ImageStepEvent | ImageRerankEvent | ImageDoneEvent;

/** Emitted once before the first token. */
export interface TextStartEvent {
  type: 'start';
  task: 'mmu' | 'text';
  batch: number;
  /** Prompt length (after left padding). */
  promptLength: number;
  cached: boolean;
}

/** Emitted for every generated token of every row. */
export interface TextTokenEvent {
  type: 'token';
  task: 'mmu' | 'text';
  /** Decoding step (0-based). */
  step: number;
  row: number;
  token: number;
  /** Tokens of the row so far (this one included). */
  tokens: number[];
  /** Text of the row so far, when a tokenizer is available. */
  text?: string;
  /** Set when this token ended the row. */
  stop?: StopReason;
}

/** The result of a text generation. */
export interface TextResult {
  tokens: number[][];
  texts?: string[];
  stopReasons: StopReason[];
  /** Beam search: each answer's sum of natural-log probabilities (its tokens, the stop token included). */
  logProbs?: number[];
}

/** Last event of a successful text generation. */
export interface TextDoneEvent {
  type: 'done';
  task: 'mmu' | 'text';
  result: TextResult;
}

/** Events of a text generation stream. */
export type TextGenerationEvent = TextStartEvent | TextTokenEvent | TextDoneEvent;

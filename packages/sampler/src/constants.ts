/** Marks a still-masked position in a code array (codes are 0 … K−1, so −1 can never be a real code). */
export const MASKED = -1;

/** `torch.finfo(float32).max`: the confidence the official sampler gives to tokens that were given in the input. */
export const FLT_MAX = 3.4028234663852886e38;

/** The `eps` of the official `log(t, eps=1e-20)` helper, as float32. */
export const LOG_EPS = Math.fround(1e-20);

/** Official defaults of `Showo.t2i_generate` and `mmu_generate` (models/modeling_showo.py). */
export const MASKGIT_DEFAULTS = {
  steps: 18,
  temperature: 1.0,
  schedule: 'cosine',
  guidanceScale: 0,
} as const;

/** Defaults of the autoregressive sampler: what inference_mmu.py uses (top-k 1, i.e. greedy). */
export const AUTOREGRESSIVE_DEFAULTS = {
  temperature: 1.0,
  maxNewTokens: 100,
} as const;

/**
 * The parameter table: every tensor of a Show-o network with its official checkpoint name, its official shape,
 * and how it is held in memory. One table drives random init, loading, saving, vocabulary growth and
 * `trainableVariables()`, so names and shapes cannot drift apart between them.
 */
import * as tf from '@tensorflow/tfjs';
import type { DecoderLayerWeights, LinearWeights, NormWeights } from './block.js';
import { headDim, imageGridSide, type ShowoConfig } from './config.js';

/**
 * What a tensor is. `linear` weights are stored [out, in] in checkpoints and held [in, out] in memory (the
 * layout of the fast `linear` primitive); everything else is held as stored.
 */
export type ParamKind = 'embedding' | 'linear' | 'bias' | 'norm-weight' | 'norm-bias';

/** One tensor of the network. */
export interface ParamSpec {
  /** Official checkpoint name, e.g. `showo.model.layers.0.self_attn.q_proj.weight`. */
  name: string;
  /** Official (checkpoint) shape. */
  shape: number[];
  kind: ParamKind;
}

/** All weights of a Show-o network. */
export interface ShowoWeights {
  embedTokens: tf.Variable<tf.Rank.R2>; // [V, H]
  /** Row and column embeddings of image tokens ([√N, H] each), when the config has `image_position_embedding`. */
  imagePosition?: { row: tf.Variable<tf.Rank.R2>; col: tf.Variable<tf.Rank.R2> };
  layers: DecoderLayerWeights[];
  finalLayernorm: NormWeights;
  lmHead: LinearWeights; // w [H, V], b [V]
}

export const PREFIX = 'showo.';
/** Parameter names of the optional image row / column embeddings (not in official checkpoints). */
export const IMAGE_ROW_EMBED = `${PREFIX}model.image_row_embed.weight`;
export const IMAGE_COL_EMBED = `${PREFIX}model.image_col_embed.weight`;

/** The parameter table for a config, in the official state-dict order. */
export function paramSpecs(c: ShowoConfig): ParamSpec[] {
  const H = c.hidden_size;
  const I = c.intermediate_size;
  const V = c.vocab_size;
  const hd = headDim(c);
  const specs: ParamSpec[] = [{ name: `${PREFIX}model.embed_tokens.weight`, shape: [V, H], kind: 'embedding' }];
  if (c.image_position_embedding) {
    const side = imageGridSide(c);
    specs.push({ name: IMAGE_ROW_EMBED, shape: [side, H], kind: 'embedding' }, { name: IMAGE_COL_EMBED, shape: [side, H], kind: 'embedding' });
  }
  const lin = (name: string, out: number, inp: number) => {
    specs.push({ name: `${name}.weight`, shape: [out, inp], kind: 'linear' }, { name: `${name}.bias`, shape: [out], kind: 'bias' });
  };
  const norm = (name: string, n: number) => {
    specs.push({ name: `${name}.weight`, shape: [n], kind: 'norm-weight' }, { name: `${name}.bias`, shape: [n], kind: 'norm-bias' });
  };
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `${PREFIX}model.layers.${l}`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'dense']) lin(`${p}.self_attn.${proj}`, H, H);
    if (c.qk_layernorm) {
      norm(`${p}.self_attn.q_layernorm`, hd);
      norm(`${p}.self_attn.k_layernorm`, hd);
    }
    lin(`${p}.mlp.fc1`, I, H);
    lin(`${p}.mlp.fc2`, H, I);
    norm(`${p}.input_layernorm`, H);
  }
  norm(`${PREFIX}model.final_layernorm`, H);
  lin(`${PREFIX}lm_head`, V, H);
  return specs;
}

/** In-memory shape of a parameter (linear weights transposed to [in, out]). */
export function memoryShape(spec: ParamSpec): number[] {
  return spec.kind === 'linear' ? [spec.shape[1], spec.shape[0]] : [...spec.shape];
}

/** Builds the structured view over a name → variable map (which must hold every name of `paramSpecs`). */
export function structure(c: ShowoConfig, vars: Map<string, tf.Variable>): ShowoWeights {
  const get = <R extends tf.Rank>(name: string) => {
    const v = vars.get(name);
    if (!v) throw new Error(`internal: no variable ${name}`);
    return v as tf.Variable<R>;
  };
  const lin = (n: string): LinearWeights => ({ w: get<tf.Rank.R2>(`${n}.weight`), b: get<tf.Rank.R1>(`${n}.bias`) });
  const norm = (n: string): NormWeights => ({ gamma: get<tf.Rank.R1>(`${n}.weight`), beta: get<tf.Rank.R1>(`${n}.bias`) });
  const layers: DecoderLayerWeights[] = [];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `${PREFIX}model.layers.${l}`;
    layers.push({
      inputLayernorm: norm(`${p}.input_layernorm`),
      qProj: lin(`${p}.self_attn.q_proj`),
      kProj: lin(`${p}.self_attn.k_proj`),
      vProj: lin(`${p}.self_attn.v_proj`),
      dense: lin(`${p}.self_attn.dense`),
      qLayernorm: c.qk_layernorm ? norm(`${p}.self_attn.q_layernorm`) : undefined,
      kLayernorm: c.qk_layernorm ? norm(`${p}.self_attn.k_layernorm`) : undefined,
      fc1: lin(`${p}.mlp.fc1`),
      fc2: lin(`${p}.mlp.fc2`),
    });
  }
  return {
    embedTokens: get<tf.Rank.R2>(`${PREFIX}model.embed_tokens.weight`),
    ...(c.image_position_embedding ? { imagePosition: { row: get<tf.Rank.R2>(IMAGE_ROW_EMBED), col: get<tf.Rank.R2>(IMAGE_COL_EMBED) } } : {}),
    layers,
    finalLayernorm: norm(`${PREFIX}model.final_layernorm`),
    lmHead: lin(`${PREFIX}lm_head`),
  };
}

/**
 * Transposes a row-major [rows, cols] matrix on the host, in cache-friendly tiles. Used at load and save time
 * only: a tensor-op transpose would need a second device copy and is slow on the cpu backend for the
 * 58498×2048 head.
 */
export function transposeHost(src: Float32Array, rows: number, cols: number): Float32Array {
  const dst = new Float32Array(src.length);
  const T = 64;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        const rowBase = r * cols;
        for (let c = c0; c < c1; c++) dst[c * rows + r] = src[rowBase + c];
      }
    }
  }
  return dst;
}

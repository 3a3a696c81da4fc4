import fs from 'node:fs';
import { ShowoConfigError } from './errors.js';

/**
 * Hyper-parameters of a Show-o network. Field names are the official ones (snake_case, as in the official
 * config.json files and in Phi's HF config), so a config round-trips without a renaming table.
 */
export interface ShowoConfig {
  /** Rows of the unified vocabulary: text + [PAD] + specials + image codes + mask (+ tokens added later). */
  vocab_size: number;
  /** Text vocabulary size of the language model the text ids come from (Phi-1.5: 50295). */
  llm_vocab_size: number;
  /** `[PAD]` plus the nine Show-o specials (`<|soi|>` … `<|lvg|>`): 10. */
  num_new_special_tokens: number;
  /** Image codebook size K (MAGVIT-v2: 8192). */
  codebook_size: number;
  /** Image tokens per image N (256 at 256×256, 1024 at 512×512). */
  num_vq_tokens: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  /** Fraction of each head's dims that get the rotary embedding (Phi: 0.5). */
  partial_rotary_factor: number;
  /** Per-head LayerNorm on q and k before RoPE (Show-o: true). */
  qk_layernorm: boolean;
  layer_norm_eps: number;
  rope_theta: number;
  /** Informational (Phi extends its rotary table past it); kept so configs round-trip. */
  max_position_embeddings: number;
  /** Show-o's prompt text length MSL, when the config records it (prompting uses it, the network does not). */
  max_seq_length?: number;
  /**
   * Not in the official architecture (absent there, and then nothing changes). `'row_col'`: learned row and column
   * embeddings (`showo.model.image_row_embed.weight`, `…image_col_embed.weight`, [√N, H] each) are added to the
   * input of every image token, by its place in the √N × √N grid of its image. Phi's rotary positions are 1-D, so
   * "the token above" is 16 positions back and "the left third" is a residue of the position — a small model learns
   * neither quickly; these give every image token its row and column directly. See `ShowoModel.addImagePositionEmbedding`.
   */
  image_position_embedding?: 'row_col';
}

/** Phi-1.5's own config (microsoft/phi-1_5), used when an official Show-o config names it and omits its fields. */
export const PHI_1_5_DEFAULTS = {
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 24,
  num_attention_heads: 32,
  partial_rotary_factor: 0.5,
  qk_layernorm: true, // Show-o turns QK-norm on over Phi-1.5 (phi_config_after_showo_init.qk_layernorm)
  layer_norm_eps: 1e-5,
  rope_theta: 10000,
  max_position_embeddings: 2048,
} as const satisfies Partial<ShowoConfig>;

/** Show-o fields: their value in a `phi_config` block (pre-resize vocab) must never win over the Show-o one. */
const SHOWO_FIELDS = ['vocab_size', 'llm_vocab_size', 'num_new_special_tokens', 'codebook_size', 'num_vq_tokens', 'max_seq_length', 'image_position_embedding'] as const;
const PHI_FIELDS = [
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'partial_rotary_factor',
  'qk_layernorm',
  'layer_norm_eps',
  'rope_theta',
  'max_position_embeddings',
] as const;
const INTEGER_FIELDS = [
  'vocab_size',
  'llm_vocab_size',
  'num_new_special_tokens',
  'codebook_size',
  'num_vq_tokens',
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'max_position_embeddings',
] as const;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `head_dim = hidden_size / num_attention_heads`. */
/**
 * The benchmark configuration every speed figure of the project refers to: hidden 256, 4 layers, 8 heads,
 * intermediate 1024, 1024 image codes, 200 text tokens, 32 text + 256 image positions (291 in a t2i sequence),
 * 3.79 M parameters — the configuration whose official PyTorch timings are in `shared/notes`.
 */
export const BENCH_CONFIG: Readonly<ShowoConfig> = Object.freeze({
  vocab_size: 1235, // 200 text + 10 specials + 1024 codes + [MASK]
  llm_vocab_size: 200,
  num_new_special_tokens: 10,
  codebook_size: 1024,
  num_vq_tokens: 256,
  hidden_size: 256,
  intermediate_size: 1024,
  num_hidden_layers: 4,
  num_attention_heads: 8,
  partial_rotary_factor: 0.5,
  qk_layernorm: true,
  layer_norm_eps: 1e-5,
  rope_theta: 10000,
  max_position_embeddings: 2048,
  max_seq_length: 32,
});

export function headDim(c: ShowoConfig): number {
  return c.hidden_size / c.num_attention_heads;
}

/** Channels of each head that are rotated: `int(partial_rotary_factor · head_dim)` (as Phi computes it). */
export function rotaryDim(c: ShowoConfig): number {
  return Math.trunc(c.partial_rotary_factor * headDim(c));
}

/** Side of the square image grid (√num_vq_tokens), or 0 when num_vq_tokens is not a square. */
export function imageGridSide(c: ShowoConfig): number {
  const side = Math.round(Math.sqrt(c.num_vq_tokens));
  return side * side === c.num_vq_tokens ? side : 0;
}

/** Parameter count of a model with this config (what a checkpoint of it holds). */
export function parameterCount(c: ShowoConfig): number {
  const h = c.hidden_size;
  const i = c.intermediate_size;
  const hd = headDim(c);
  const perLayer = 4 * (h * h + h) + (c.qk_layernorm ? 4 * hd : 0) + (h * i + i) + (i * h + h) + 2 * h;
  const imagePositions = c.image_position_embedding ? 2 * imageGridSide(c) * h : 0;
  return c.vocab_size * h + imagePositions + c.num_hidden_layers * perLayer + 2 * h + (h * c.vocab_size + c.vocab_size);
}

/**
 * Reads a Show-o config from a parsed config.json. Three layouts are accepted:
 * - the conformance fixture's: a `phi_config` block (the language model; its `vocab_size` is Phi's size
 *   *before* Show-o resized it and is ignored) plus a `showo` block;
 * - the official release's: Show-o fields at the top level (or under `model.showo`, as in the official YAML
 *   configs), with the Phi fields taken from Phi-1.5 when `llm_model_path` names `phi-1_5` and they are absent;
 * - a flat one holding every field at the top level (what {@link configToJson} writes).
 * Every missing or invalid field is reported at once in a {@link ShowoConfigError}.
 */
export function parseShowoConfig(json: unknown, source = 'config'): ShowoConfig {
  if (!isObject(json)) throw new ShowoConfigError(['expected a JSON object'], source);
  const model = isObject(json.model) ? json.model : undefined;
  const showoBlocks = [json.showo, model?.showo, model].filter(isObject);
  const phiBlocks = [json.phi_config, json.llm_config, json.text_config].filter(isObject);
  const pick = (field: string, blocks: Json[]): unknown => {
    for (const b of blocks) if (b[field] !== undefined && b[field] !== null) return b[field];
    return undefined;
  };
  const raw: Record<string, unknown> = {};
  for (const f of SHOWO_FIELDS) raw[f] = pick(f, [...showoBlocks, json]);
  for (const f of PHI_FIELDS) raw[f] = pick(f, [...phiBlocks, json, ...showoBlocks]);

  const llmPath = String(pick('llm_model_path', [...showoBlocks, json]) ?? '');
  const namesPhi15 = /phi-1[_.]5/i.test(llmPath);
  for (const f of PHI_FIELDS) if (raw[f] === undefined && namesPhi15) raw[f] = PHI_1_5_DEFAULTS[f];
  // Officially always 10 ([PAD] + 9 specials); the release config.json does not record it.
  if (raw.num_new_special_tokens === undefined) raw.num_new_special_tokens = 10;
  // Show-o always enables QK-norm; a Phi block that predates Show-o's change may omit it.
  if (raw.qk_layernorm === undefined) raw.qk_layernorm = true;

  const problems: string[] = [];
  const missing = [...SHOWO_FIELDS, ...PHI_FIELDS].filter((f) => f !== 'max_seq_length' && f !== 'image_position_embedding' && raw[f] === undefined);
  if (missing.length) {
    problems.push(
      `missing field(s): ${missing.join(', ')}` +
        (missing.some((f) => (PHI_FIELDS as readonly string[]).includes(f)) ? ' (give them, or a "phi_config" block, or "llm_model_path": "microsoft/phi-1_5")' : ''),
    );
  }
  const config = { ...raw } as unknown as ShowoConfig;
  if (config.max_seq_length === undefined) delete config.max_seq_length;
  if (config.image_position_embedding === undefined) delete config.image_position_embedding;
  problems.push(...configProblems(config, new Set(missing)));
  if (problems.length) throw new ShowoConfigError(problems, source);
  return config;
}

/** Reads and parses a config.json file (see {@link parseShowoConfig}). */
export function readShowoConfig(file: string): ShowoConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ShowoConfigError([`cannot read the file (${(e as Error).message})`], file);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ShowoConfigError([`not valid JSON (${(e as Error).message})`], file);
  }
  return parseShowoConfig(json, file);
}

/** Checks a config object (e.g. one written by hand for `ShowoModel.random`); throws {@link ShowoConfigError}. */
export function validateShowoConfig(config: ShowoConfig, source = 'config'): ShowoConfig {
  const problems = configProblems(config, new Set());
  if (problems.length) throw new ShowoConfigError(problems, source);
  return config;
}

function configProblems(c: ShowoConfig, skip: Set<string>): string[] {
  const p: string[] = [];
  const rec = c as unknown as Record<string, unknown>;
  for (const f of INTEGER_FIELDS) {
    if (skip.has(f)) continue;
    const v = rec[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < (f === 'num_new_special_tokens' ? 0 : 1)) {
      p.push(`${f} must be a positive integer, got ${JSON.stringify(v)}`);
    }
  }
  if (c.max_seq_length !== undefined && (!Number.isInteger(c.max_seq_length) || c.max_seq_length < 1)) {
    p.push(`max_seq_length must be a positive integer, got ${JSON.stringify(c.max_seq_length)}`);
  }
  if (c.image_position_embedding !== undefined && c.image_position_embedding !== 'row_col') {
    p.push(`image_position_embedding must be "row_col" or absent, got ${JSON.stringify(c.image_position_embedding)}`);
  }
  for (const f of ['layer_norm_eps', 'rope_theta'] as const) {
    if (!skip.has(f) && !(typeof c[f] === 'number' && c[f] > 0 && Number.isFinite(c[f]))) p.push(`${f} must be a positive number, got ${JSON.stringify(c[f])}`);
  }
  if (!skip.has('partial_rotary_factor') && !(typeof c.partial_rotary_factor === 'number' && c.partial_rotary_factor >= 0 && c.partial_rotary_factor <= 1)) {
    p.push(`partial_rotary_factor must be in [0, 1], got ${JSON.stringify(c.partial_rotary_factor)}`);
  }
  if (!skip.has('qk_layernorm') && typeof c.qk_layernorm !== 'boolean') p.push(`qk_layernorm must be true or false, got ${JSON.stringify(c.qk_layernorm)}`);
  if (p.length) return p; // the checks below assume well-typed fields
  if (skip.size) return p;
  if (c.hidden_size % c.num_attention_heads !== 0) {
    p.push(`hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`);
  } else if (rotaryDim(c) % 2 !== 0) {
    p.push(`rotary dim int(${c.partial_rotary_factor}·${headDim(c)}) = ${rotaryDim(c)} must be even (rotate-half)`);
  }
  if (c.image_position_embedding && imageGridSide(c) === 0) {
    p.push(`image_position_embedding needs a square image grid, but num_vq_tokens ${c.num_vq_tokens} is not a square`);
  }
  const needed = c.llm_vocab_size + c.num_new_special_tokens + c.codebook_size + 1;
  if (c.vocab_size < needed) {
    p.push(
      `vocab_size ${c.vocab_size} is smaller than llm_vocab_size + num_new_special_tokens + codebook_size + 1 (mask) = ${needed}`,
    );
  }
  return p;
}

/** The flat config.json a saved checkpoint carries (every field at the top level; readable by {@link parseShowoConfig}). */
export function configToJson(c: ShowoConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { model_type: 'showo' };
  for (const f of [...SHOWO_FIELDS, ...PHI_FIELDS]) if (c[f] !== undefined) out[f] = c[f];
  return out;
}

/**
 * Tokenizer configs: the official full-size defaults, reading config JSON (fixture `official_constructor_args`,
 * our own saved form, the 66-byte Hugging Face `config.json` of `showlab/magvitv2`), inferring a config from the
 * tensor shapes of a checkpoint, and validation.
 */
import { MagvitConfigError } from './errors.js';
import type { MagvitConfig, MagvitPartConfig, OutputMode, PaletteColour } from './types.js';

/** `MAGVITv2()` with no arguments: encoder and decoder defaults differ (README, "Full-size official defaults"). */
export const FULL_SIZE_MAGVIT_CONFIG: Readonly<MagvitConfig> = Object.freeze({
  encoder: { ch: 128, chMult: [1, 2, 2, 4, 4], numResBlocks: [4, 3, 4, 3, 4], attnResolutions: [5], inCh: 3, outCh: 3, resolution: 256, zChannels: 13 },
  decoder: { ch: 128, chMult: [1, 1, 2, 2, 4], numResBlocks: [4, 4, 3, 4, 3], attnResolutions: [5], inCh: 3, outCh: 3, resolution: 256, zChannels: 13 },
  codebookDim: 13,
  beta: 0.25,
  entropyMultiplier: 0.1,
  commitLossMultiplier: 0.1,
  normGroups: 32,
  normEps: 1e-6,
  outputMode: 'rgb',
});

/** Tag written into saved configs so a reader knows the snake_case layout below. */
export const MAGVIT_CONFIG_FORMAT = 'showo-magvit-v1';

function clonePart(p: MagvitPartConfig): MagvitPartConfig {
  return { ...p, chMult: [...p.chMult], numResBlocks: [...p.numResBlocks], attnResolutions: [...p.attnResolutions] };
}

/** A deep copy of a config (configs are plain data; copies keep callers from sharing arrays). */
export function cloneMagvitConfig(c: MagvitConfig): MagvitConfig {
  return {
    ...c,
    encoder: clonePart(c.encoder),
    decoder: clonePart(c.decoder),
    palette: c.palette?.map((p) => [p[0], p[1], p[2]] as PaletteColour),
  };
}

/** Options of {@link createMagvitConfig}: a compact way to describe a small tokenizer. */
export interface CreateMagvitConfigOptions {
  ch?: number;
  chMult?: number[];
  numResBlocks?: number | number[];
  /** Decoder overrides (default: mirror the encoder). */
  decoderCh?: number;
  decoderChMult?: number[];
  decoderNumResBlocks?: number | number[];
  resolution?: number;
  attnResolutions?: number[];
  codebookDim?: number;
  normGroups?: number;
  outputMode?: OutputMode;
  palette?: PaletteColour[];
  /** See {@link MagvitConfig.paletteMinRegion}. */
  paletteMinRegion?: number;
  beta?: number;
  entropyMultiplier?: number;
  commitLossMultiplier?: number;
}

/**
 * Builds a config from a few numbers (for new, trainable tokenizers). Example — 64×64 images to 16×16 codes of 8
 * bits: `createMagvitConfig({ ch: 32, chMult: [1, 2, 2], numResBlocks: 1, resolution: 64, codebookDim: 8 })`.
 */
export function createMagvitConfig(o: CreateMagvitConfigOptions = {}): MagvitConfig {
  const ch = o.ch ?? 32;
  const chMult = o.chMult ?? [1, 2, 2];
  const blocks = (v: number | number[] | undefined, n: number, fallback: number[]): number[] =>
    v === undefined ? fallback : Array.isArray(v) ? [...v] : new Array<number>(n).fill(v);
  const numResBlocks = blocks(o.numResBlocks, chMult.length, new Array<number>(chMult.length).fill(1));
  const decChMult = o.decoderChMult ?? [...chMult];
  const decBlocks = blocks(o.decoderNumResBlocks, decChMult.length, decChMult.length === chMult.length ? [...numResBlocks].reverse() : new Array<number>(decChMult.length).fill(1));
  const resolution = o.resolution ?? 64;
  const D = o.codebookDim ?? 8;
  const outputMode = o.outputMode ?? (o.palette ? 'palette' : 'rgb');
  const outCh = outputMode === 'palette' ? (o.palette?.length ?? 0) : 3;
  const attn = o.attnResolutions ?? [];
  const config: MagvitConfig = {
    encoder: { ch, chMult: [...chMult], numResBlocks, attnResolutions: [...attn], inCh: 3, outCh: 3, resolution, zChannels: D },
    decoder: { ch: o.decoderCh ?? ch, chMult: decChMult, numResBlocks: decBlocks, attnResolutions: [...attn], inCh: 3, outCh, resolution, zChannels: D },
    codebookDim: D,
    beta: o.beta ?? 0.25,
    entropyMultiplier: o.entropyMultiplier ?? 0.1,
    commitLossMultiplier: o.commitLossMultiplier ?? 0.1,
    normGroups: o.normGroups ?? 32,
    normEps: 1e-6,
    outputMode,
    palette: o.palette?.map((p) => [p[0], p[1], p[2]] as PaletteColour),
    ...(o.paletteMinRegion ? { paletteMinRegion: o.paletteMinRegion } : {}),
  };
  validateMagvitConfig(config);
  return config;
}

/** Resolution of each level (official `curr_res` bookkeeping, integer division included). */
export function levelResolutions(part: MagvitPartConfig, kind: 'encoder' | 'decoder'): number[] {
  const n = part.chMult.length;
  const out = new Array<number>(n);
  if (kind === 'encoder') {
    let r = part.resolution;
    for (let i = 0; i < n; i++) {
      out[i] = r;
      if (i !== n - 1) r = Math.floor(r / 2);
    }
  } else {
    let r = Math.floor(part.resolution / 2 ** (n - 1));
    for (let i = n - 1; i >= 0; i--) {
      out[i] = r;
      if (i !== 0) r *= 2;
    }
  }
  return out;
}

/** Whether each level has AttnBlocks after its ResNet blocks. */
export function attentionLevels(part: MagvitPartConfig, kind: 'encoder' | 'decoder'): boolean[] {
  return levelResolutions(part, kind).map((r) => part.attnResolutions.includes(r));
}

/** Pixels per code along each side (2^(levels-1)). */
export function downsampleFactor(config: MagvitConfig): number {
  return 2 ** (config.encoder.chMult.length - 1);
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** Throws a {@link MagvitConfigError} naming the first problem found. */
export function validateMagvitConfig(c: MagvitConfig): void {
  const fail = (m: string): never => {
    throw new MagvitConfigError(m);
  };
  for (const kind of ['encoder', 'decoder'] as const) {
    const p = c[kind];
    if (!p || typeof p !== 'object') fail(`${kind} config is missing`);
    if (!isPosInt(p.ch)) fail(`${kind}.ch must be a positive integer, got ${p.ch}`);
    if (!Array.isArray(p.chMult) || p.chMult.length === 0 || !p.chMult.every(isPosInt)) fail(`${kind}.ch_mult must be a non-empty list of positive integers`);
    if (!Array.isArray(p.numResBlocks) || p.numResBlocks.length !== p.chMult.length || !p.numResBlocks.every((b) => Number.isInteger(b) && b >= 0)) {
      fail(`${kind}.num_res_blocks must list one non-negative integer per level (${p.chMult.length} levels)`);
    }
    if (!Array.isArray(p.attnResolutions)) fail(`${kind}.attn_resolutions must be a list`);
    if (!isPosInt(p.resolution)) fail(`${kind}.resolution must be a positive integer`);
    if (p.zChannels !== c.codebookDim) fail(`${kind}.z_channels (${p.zChannels}) must equal the codebook dimension (${c.codebookDim}): LFQ quantises each latent channel to one bit`);
    for (const m of p.chMult) {
      if ((p.ch * m) % c.normGroups !== 0) fail(`${kind} channel count ${p.ch * m} is not divisible by ${c.normGroups} GroupNorm groups`);
    }
  }
  if (c.encoder.inCh !== 3) fail(`encoder.in_ch must be 3 (RGB), got ${c.encoder.inCh}`);
  if (c.encoder.chMult.length !== c.decoder.chMult.length) {
    fail(`encoder (${c.encoder.chMult.length} levels) and decoder (${c.decoder.chMult.length} levels) must up- and downsample equally often`);
  }
  if (!isPosInt(c.codebookDim) || c.codebookDim > 30) fail(`codebook_dim must be an integer in 1..30 (int32 codes), got ${c.codebookDim}`);
  if (!isPosInt(c.normGroups)) fail('norm_groups must be a positive integer');
  if (!(c.normEps > 0)) fail('norm_eps must be positive');
  for (const k of ['beta', 'entropyMultiplier', 'commitLossMultiplier'] as const) {
    if (typeof c[k] !== 'number' || !Number.isFinite(c[k])) fail(`${k} must be a finite number`);
  }
  if (c.outputMode === 'rgb') {
    if (c.decoder.outCh !== 3) fail(`an RGB decoder writes 3 channels, config says out_ch ${c.decoder.outCh}`);
  } else if (c.outputMode === 'palette') {
    const pal = c.palette;
    if (!pal || pal.length < 2) fail('palette mode needs a palette of at least 2 colours');
    for (const col of pal!) {
      if (!Array.isArray(col) || col.length !== 3 || !col.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
        fail(`palette colours must be [r, g, b] integers in 0..255, got ${JSON.stringify(col)}`);
      }
    }
    if (c.decoder.outCh !== pal!.length) fail(`palette has ${pal!.length} colours but decoder.out_ch is ${c.decoder.outCh}`);
    const m = c.paletteMinRegion;
    if (m !== undefined && !(Number.isInteger(m) && m >= 0)) fail(`palette_min_region must be an integer ≥ 0, got ${JSON.stringify(m)}`);
  } else {
    fail(`output_mode must be 'rgb' or 'palette', got ${JSON.stringify(c.outputMode)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// JSON (snake_case, official argument names)

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function numList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw new MagvitConfigError(`${what} must be a list of numbers`);
  return v as number[];
}

function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new MagvitConfigError(`${what} must be a number`);
  return v;
}

function partFromJson(j: unknown, defaults: MagvitPartConfig, kind: string): MagvitPartConfig {
  if (j === undefined) return clonePart(defaults);
  if (!isObj(j)) throw new MagvitConfigError(`${kind} must be an object`);
  if (j.double_z === true) throw new MagvitConfigError(`${kind}.double_z = true is not supported (LFQ takes z_channels channels)`);
  // num_res_blocks may be one integer (taming-style configs) or a list (MAGVIT-v2).
  const chMult = j.ch_mult === undefined ? [...defaults.chMult] : numList(j.ch_mult, `${kind}.ch_mult`);
  let blocks: number[];
  if (j.num_res_blocks === undefined) blocks = [...defaults.numResBlocks];
  else if (typeof j.num_res_blocks === 'number') blocks = new Array<number>(chMult.length).fill(j.num_res_blocks);
  else blocks = numList(j.num_res_blocks, `${kind}.num_res_blocks`);
  return {
    ch: j.ch === undefined ? defaults.ch : num(j.ch, `${kind}.ch`),
    chMult,
    numResBlocks: blocks,
    attnResolutions: j.attn_resolutions === undefined ? [...defaults.attnResolutions] : numList(j.attn_resolutions, `${kind}.attn_resolutions`),
    inCh: j.in_ch === undefined ? defaults.inCh : num(j.in_ch, `${kind}.in_ch`),
    outCh: j.out_ch === undefined ? defaults.outCh : num(j.out_ch, `${kind}.out_ch`),
    resolution: j.resolution === undefined ? defaults.resolution : num(j.resolution, `${kind}.resolution`),
    zChannels: j.z_channels === undefined ? defaults.zChannels : num(j.z_channels, `${kind}.z_channels`),
  };
}

/**
 * Reads a config object. Accepted forms (all snake_case, official argument names):
 * - `{ official_constructor_args: { encoder, decoder, quantize } }` (the fixture's magvit.json, and what
 *   {@link magvitConfigToJson} writes);
 * - `{ encoder, decoder, quantize }` at the top level;
 * - anything without those keys, e.g. the Hugging Face `config.json` of `showlab/magvitv2` (`MAGVITv2()` takes no
 *   arguments): the full-size defaults.
 * Missing fields take the full-size defaults of their part. Extra keys: `norm_groups`, `norm_eps`,
 * `output_mode` ('rgb' | 'palette'), `palette` ([[r,g,b], …]).
 */
export function parseMagvitConfig(json: unknown): MagvitConfig {
  if (!isObj(json)) throw new MagvitConfigError('tokenizer config must be a JSON object');
  const args = isObj(json.official_constructor_args) ? json.official_constructor_args : json;
  const d = FULL_SIZE_MAGVIT_CONFIG;
  const encoder = partFromJson(args.encoder, d.encoder, 'encoder');
  const q = args.quantize ?? args.quantizer;
  if (q !== undefined && !isObj(q)) throw new MagvitConfigError('quantize must be an object');
  const qj = (q ?? {}) as Json;
  const codebookDim = qj.codebook_dim === undefined ? encoder.zChannels : num(qj.codebook_dim, 'quantize.codebook_dim');
  const top = { ...json, ...args } as Json;
  let palette: PaletteColour[] | undefined;
  if (top.palette !== undefined) {
    if (!Array.isArray(top.palette)) throw new MagvitConfigError('palette must be a list of [r, g, b]');
    palette = (top.palette as unknown[]).map((c) => {
      if (!Array.isArray(c) || c.length !== 3) throw new MagvitConfigError(`palette colour ${JSON.stringify(c)} is not [r, g, b]`);
      return [num(c[0], 'palette'), num(c[1], 'palette'), num(c[2], 'palette')] as PaletteColour;
    });
  }
  const outputMode = (top.output_mode as OutputMode | undefined) ?? (palette ? 'palette' : 'rgb');
  const decDefaults = { ...d.decoder, outCh: outputMode === 'palette' && palette ? palette.length : 3 };
  const decoder = partFromJson(args.decoder, decDefaults, 'decoder');
  const config: MagvitConfig = {
    encoder,
    decoder,
    codebookDim,
    beta: qj.beta === undefined ? d.beta : num(qj.beta, 'quantize.beta'),
    entropyMultiplier: qj.entropy_multiplier === undefined ? d.entropyMultiplier : num(qj.entropy_multiplier, 'quantize.entropy_multiplier'),
    commitLossMultiplier: qj.commit_loss_multiplier === undefined ? d.commitLossMultiplier : num(qj.commit_loss_multiplier, 'quantize.commit_loss_multiplier'),
    normGroups: top.norm_groups === undefined ? d.normGroups : num(top.norm_groups, 'norm_groups'),
    normEps: top.norm_eps === undefined ? d.normEps : num(top.norm_eps, 'norm_eps'),
    outputMode,
    palette,
    ...(top.palette_min_region !== undefined ? { paletteMinRegion: num(top.palette_min_region, 'palette_min_region') } : {}),
  };
  validateMagvitConfig(config);
  return config;
}

function partToJson(p: MagvitPartConfig, cls: string): Json {
  return {
    class: cls,
    ch: p.ch,
    ch_mult: [...p.chMult],
    num_res_blocks: [...p.numResBlocks],
    attn_resolutions: [...p.attnResolutions],
    dropout: 0.0,
    in_ch: p.inCh,
    out_ch: p.outCh,
    resolution: p.resolution,
    z_channels: p.zChannels,
    double_z: false,
  };
}

/** The JSON form {@link parseMagvitConfig} reads back (official argument names, plus our extensions). */
export function magvitConfigToJson(c: MagvitConfig): Record<string, unknown> {
  const out: Json = {
    format: MAGVIT_CONFIG_FORMAT,
    official_constructor_args: {
      encoder: partToJson(c.encoder, 'VQGANEncoder'),
      decoder: partToJson(c.decoder, 'VQGANDecoder'),
      quantize: {
        class: 'LFQuantizer',
        codebook_dim: c.codebookDim,
        beta: c.beta,
        entropy_multiplier: c.entropyMultiplier,
        commit_loss_multiplier: c.commitLossMultiplier,
      },
    },
    norm_groups: c.normGroups,
    norm_eps: c.normEps,
    output_mode: c.outputMode,
  };
  if (c.palette) out.palette = c.palette.map((p) => [p[0], p[1], p[2]]);
  if (c.paletteMinRegion) out.palette_min_region = c.paletteMinRegion;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Inference from tensor shapes (PyTorch layout: conv weights [out, in, kh, kw])

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Hints for {@link inferMagvitConfig}: what tensor shapes cannot say. */
export interface InferConfigHints {
  /** Image resolution (default 256); only used to express where attention blocks sit. */
  resolution?: number;
  normGroups?: number;
  palette?: PaletteColour[];
}

function inferPart(shapes: ReadonlyMap<string, readonly number[]>, kind: 'encoder' | 'decoder', resolution: number): MagvitPartConfig {
  const levelKey = kind === 'encoder' ? 'down' : 'up';
  const re = new RegExp(`^${kind}\\.${levelKey}\\.(\\d+)\\.(block|attn)\\.(\\d+)\\.`);
  const blocks = new Map<number, number>();
  const attnLevels = new Set<number>();
  let levels = 0;
  for (const name of shapes.keys()) {
    const lv = new RegExp(`^${kind}\\.${levelKey}\\.(\\d+)\\.`).exec(name);
    if (lv) levels = Math.max(levels, Number(lv[1]) + 1);
    const m = re.exec(name);
    if (!m) continue;
    const level = Number(m[1]);
    if (m[2] === 'block') blocks.set(level, Math.max(blocks.get(level) ?? 0, Number(m[3]) + 1));
    else attnLevels.add(level);
  }
  if (levels === 0) throw new MagvitConfigError(`cannot infer the ${kind}: no ${kind}.${levelKey}.* tensors`);
  const need = (name: string): readonly number[] => {
    const s = shapes.get(name);
    if (!s) throw new MagvitConfigError(`cannot infer the ${kind}: tensor ${name} is missing`);
    return s;
  };
  const convIn = need(`${kind}.conv_in.weight`);
  const convOut = need(`${kind}.conv_out.weight`);
  // Channels per level from each level's first block output (a level without blocks keeps its input width).
  const channels: number[] = [];
  let prev = convIn[0];
  const order = kind === 'encoder' ? [...Array(levels).keys()] : [...Array(levels).keys()].reverse();
  const byLevel = new Map<number, number>();
  for (const i of order) {
    const s = shapes.get(`${kind}.${levelKey}.${i}.block.0.conv1.weight`);
    if (s) prev = s[0];
    byLevel.set(i, prev);
  }
  for (let i = 0; i < levels; i++) channels.push(byLevel.get(i)!);
  const ch = kind === 'encoder' ? convIn[0] : channels.reduce(gcd);
  if (channels.some((c) => c % ch !== 0)) throw new MagvitConfigError(`cannot infer the ${kind}: level widths ${channels.join(',')} are not multiples of ch ${ch}`);
  const part: MagvitPartConfig = {
    ch,
    chMult: channels.map((c) => c / ch),
    numResBlocks: [...Array(levels).keys()].map((i) => blocks.get(i) ?? 0),
    attnResolutions: [],
    inCh: kind === 'encoder' ? convIn[1] : 3,
    outCh: kind === 'decoder' ? convOut[0] : 3,
    resolution,
    zChannels: kind === 'encoder' ? convOut[0] : convIn[1],
  };
  const res = levelResolutions(part, kind);
  part.attnResolutions = [...attnLevels].sort((a, b) => a - b).map((i) => res[i]);
  return part;
}

/**
 * Reads a config off the tensor shapes of a checkpoint (official names, PyTorch layout). Widths, depths, levels,
 * latent size and palette size come from the shapes; `hints` supply the rest.
 */
export function inferMagvitConfig(shapes: ReadonlyMap<string, readonly number[]>, hints: InferConfigHints = {}): MagvitConfig {
  const resolution = hints.resolution ?? 256;
  const encoder = inferPart(shapes, 'encoder', resolution);
  const decoder = inferPart(shapes, 'decoder', resolution);
  const outputMode: OutputMode = hints.palette ? 'palette' : 'rgb';
  const d = FULL_SIZE_MAGVIT_CONFIG;
  const config: MagvitConfig = {
    encoder,
    decoder,
    codebookDim: encoder.zChannels,
    beta: d.beta,
    entropyMultiplier: d.entropyMultiplier,
    commitLossMultiplier: d.commitLossMultiplier,
    normGroups: hints.normGroups ?? d.normGroups,
    normEps: d.normEps,
    outputMode,
    palette: hints.palette?.map((p) => [p[0], p[1], p[2]] as PaletteColour),
  };
  validateMagvitConfig(config);
  return config;
}

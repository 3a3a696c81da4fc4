/**
 * Loading and saving tokenizer weights as safetensors with the official names and PyTorch layouts, so files
 * interchange with `MAGVITv2.state_dict()` (the released `showlab/magvitv2` checkpoint included).
 */
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { SafetensorsReader, writeFileAtomic, writeSafetensors, type TensorToWrite } from '@showo/runtime';
import { inferMagvitConfig, magvitConfigToJson, parseMagvitConfig, type InferConfigHints } from './config.js';
import { MagvitConfigError, MagvitWeightsError } from './errors.js';
import { lfqEmbedding, lfqPowers } from './lfq.js';
import { MagvitTokenizer } from './model.js';
import { parameterSpecs, QUANTIZER_BUFFERS, tfConvToTorch, tfShape, torchConvToTf } from './params.js';
import type { MagvitConfig } from './types.js';

/** safetensors `__metadata__` key holding our config JSON. */
export const CONFIG_METADATA_KEY = 'showo_magvit_config';

/** Where a tokenizer's config comes from when loading weights. */
export interface LoadMagvitOptions extends InferConfigHints {
  /**
   * A config object, a parsed config JSON, or the path of a config JSON file. Default: the config stored in the
   * file's metadata (files written by {@link saveMagvit}), else one inferred from the tensor shapes (`resolution`,
   * `normGroups` and `palette` fill what shapes cannot say).
   */
  config?: MagvitConfig | Record<string, unknown> | string;
}

function isMagvitConfig(v: unknown): v is MagvitConfig {
  return typeof v === 'object' && v !== null && 'encoder' in v && Array.isArray((v as MagvitConfig).encoder?.chMult);
}

/** Reads a config JSON file (any form {@link parseMagvitConfig} accepts). */
export function readMagvitConfig(file: string): MagvitConfig {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new MagvitConfigError(`${file}: cannot read the tokenizer config (${(e as Error).message})`, { cause: e });
  }
  try {
    return parseMagvitConfig(json);
  } catch (e) {
    if (e instanceof MagvitConfigError) throw new MagvitConfigError(`${file}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** Writes a config JSON file atomically (the form {@link readMagvitConfig} reads). */
export function writeMagvitConfig(file: string, config: MagvitConfig): void {
  writeFileAtomic(file, JSON.stringify(magvitConfigToJson(config), null, 2) + '\n');
}

function resolveConfig(reader: SafetensorsReader, options: LoadMagvitOptions): MagvitConfig {
  const c = options.config;
  if (typeof c === 'string') return readMagvitConfig(c);
  if (isMagvitConfig(c)) return c;
  if (c !== undefined) return parseMagvitConfig(c);
  const stored = reader.metadata[CONFIG_METADATA_KEY];
  if (stored !== undefined) {
    try {
      return parseMagvitConfig(JSON.parse(stored));
    } catch (e) {
      throw new MagvitWeightsError(reader.file, `stored tokenizer config is unreadable (${(e as Error).message})`, { cause: e });
    }
  }
  const shapes = new Map<string, readonly number[]>();
  for (const name of reader.names()) shapes.set(name, reader.entry(name).shape);
  try {
    return inferMagvitConfig(shapes, options);
  } catch (e) {
    throw new MagvitWeightsError(reader.file, `cannot infer a tokenizer config from the tensor shapes: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Loads a tokenizer from a safetensors file with official parameter names (PyTorch layout). Tensors are read one
 * at a time, so the 382 MB released checkpoint never sits in memory twice.
 */
export function loadMagvit(file: string, options: LoadMagvitOptions = {}): MagvitTokenizer {
  const reader = SafetensorsReader.open(file);
  const tensors = new Map<string, tf.Tensor>();
  try {
    const config = resolveConfig(reader, options);
    const specs = parameterSpecs(config);
    const known = new Set<string>([...specs.map((s) => s.name), ...QUANTIZER_BUFFERS]);
    const problems: string[] = [];
    for (const s of specs) {
      if (!reader.has(s.name)) {
        problems.push(`missing ${s.name}`);
        continue;
      }
      const shape = reader.entry(s.name).shape;
      if (shape.join(',') !== s.torchShape.join(',')) problems.push(`${s.name} has shape [${shape.join(', ')}], the config needs [${s.torchShape.join(', ')}]`);
    }
    for (const name of reader.names()) if (!known.has(name)) problems.push(`unexpected ${name}`);
    if (reader.has('quantize.embedding')) {
      const shape = reader.entry('quantize.embedding').shape;
      const K = 2 ** config.codebookDim;
      if (shape.join(',') !== `${K},${config.codebookDim}`) problems.push(`quantize.embedding has shape [${shape.join(', ')}], expected [${K}, ${config.codebookDim}]`);
    }
    if (problems.length) {
      throw new MagvitWeightsError(file, `weights do not fit the tokenizer config (${problems.length} problems): ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? '; …' : ''}`);
    }
    for (const s of specs) {
      const host = reader.read(s.name);
      if (!(host.data instanceof Float32Array)) throw new MagvitWeightsError(file, `${s.name} is ${host.dtype}, expected a float tensor`);
      const data = s.kind === 'conv' ? torchConvToTf(host.data, s.torchShape) : host.data;
      tensors.set(s.name, tf.tensor(data, tfShape(s), 'float32'));
    }
    return MagvitTokenizer.fromTensors(config, tensors, file); // takes ownership of `tensors`
  } catch (e) {
    for (const t of tensors.values()) if (!t.isDisposed) t.dispose();
    throw e;
  } finally {
    reader.close();
  }
}

/**
 * Writes the tokenizer as safetensors: every parameter in PyTorch layout under its official name, the official
 * quantiser buffers (`quantize.embedding`, `quantize.power_vals`), and our config JSON in the metadata — a file
 * PyTorch's `MAGVITv2.load_state_dict` accepts and {@link loadMagvit} reads back without a separate config.
 */
export function saveMagvit(model: MagvitTokenizer, file: string, metadata: Record<string, string> = {}): void {
  const config = model.config;
  const vars = model.namedVariables();
  const out = new Map<string, TensorToWrite>();
  for (const s of parameterSpecs(config)) {
    const data = vars.get(s.name)!.dataSync() as Float32Array;
    out.set(s.name, { dtype: 'F32', shape: s.torchShape, data: s.kind === 'conv' ? tfConvToTorch(data, s.torchShape) : data });
  }
  const D = config.codebookDim;
  // The official buffer is a full 2^D × D table; past 2^18 rows it would dwarf the model, and it is derivable.
  if (D <= 18) out.set('quantize.embedding', { dtype: 'F32', shape: [2 ** D, D], data: lfqEmbedding(D) });
  out.set('quantize.power_vals', { dtype: 'I64', shape: [D], data: lfqPowers(D) });
  writeSafetensors(file, out, { format: 'pt', ...metadata, [CONFIG_METADATA_KEY]: JSON.stringify(magvitConfigToJson(config)) });
}

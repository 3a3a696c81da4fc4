/**
 * Reading and writing Show-o checkpoints: `config.json` + one safetensors file with the official tensor names.
 * Loading goes tensor by tensor (positioned reads; each host copy is dropped once it is on the backend), so a
 * 1.3 B-parameter checkpoint never exists twice in memory.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { SafetensorsReader, writeFileAtomic, writeSafetensors, type SafetensorsDType, type TensorToWrite } from '@showo/runtime';
import { configToJson, readShowoConfig, type ShowoConfig } from './config.js';
import { CheckpointMismatchError, ShowoConfigError, type ShapeMismatch } from './errors.js';
import { assertModelFits, type MemoryBudgetOptions } from './memory.js';
import { memoryShape, paramSpecs, transposeHost, type ParamSpec } from './weights.js';

/**
 * File names a checkpoint's weights may have, in the order {@link ShowoModel.load} looks for them (when
 * {@link LoadOptions.weightsFile} is not set).
 */
export const WEIGHTS_FILE_NAMES = ['model.safetensors', 'pytorch_model.safetensors', 'weights.safetensors'] as const;
export const CONFIG_FILE_NAME = 'config.json';

/** Options of `ShowoModel.load`. */
export interface LoadOptions extends MemoryBudgetOptions {
  /** Weights file (absolute, or relative to the folder); default: the first of {@link WEIGHTS_FILE_NAMES} present. */
  weightsFile?: string;
  /** Use this config instead of reading `config.json`. */
  config?: ShowoConfig;
  /**
   * Tensors of the file the model may ignore. Default: rotary `inv_freq` buffers (older exports carry them;
   * they are recomputed). Anything else unknown is a {@link CheckpointMismatchError}.
   */
  ignoreTensor?: (name: string) => boolean;
}

/** Options of `ShowoModel.save`. */
export interface SaveOptions {
  /** Storage dtype of the weights (default F32; BF16 halves the file, F16 too but overflows past 65504). */
  dtype?: 'F32' | 'BF16' | 'F16';
  /** Name of the weights file in the folder (default `model.safetensors`). */
  weightsFile?: string;
}

const defaultIgnore = (name: string) => /\.rotary_emb\.inv_freq$/.test(name);

export function resolveWeightsFile(dir: string, weightsFile?: string): string {
  if (weightsFile) return path.resolve(dir, weightsFile);
  for (const name of WEIGHTS_FILE_NAMES) {
    const f = path.join(dir, name);
    if (fs.existsSync(f)) return f;
  }
  throw new CheckpointMismatchError(dir, [`weights file (one of ${WEIGHTS_FILE_NAMES.join(', ')})`], [], []);
}

/** Compares a file's header with the parameter table; throws listing every difference. */
function checkHeader(reader: SafetensorsReader, specs: ParamSpec[], ignore: (n: string) => boolean): void {
  const expected = new Set(specs.map((s) => s.name));
  const missing = specs.filter((s) => !reader.has(s.name)).map((s) => s.name);
  const unexpected = reader.names().filter((n) => !expected.has(n) && !ignore(n));
  const misShaped: ShapeMismatch[] = [];
  const wrongDtype: { name: string; dtype: string }[] = [];
  for (const s of specs) {
    if (!reader.has(s.name)) continue;
    const e = reader.entry(s.name);
    if (e.shape.length !== s.shape.length || e.shape.some((d, i) => d !== s.shape[i])) misShaped.push({ name: s.name, expected: s.shape, actual: e.shape });
    if (e.dtype !== 'F32' && e.dtype !== 'F16' && e.dtype !== 'BF16') wrongDtype.push({ name: s.name, dtype: e.dtype });
  }
  if (missing.length || unexpected.length || misShaped.length || wrongDtype.length) {
    throw new CheckpointMismatchError(reader.file, missing, unexpected, misShaped, wrongDtype);
  }
}

/**
 * Reads a checkpoint folder into variables (official names → `tf.Variable`, linear weights transposed to
 * [in, out]). Everything that can be checked is checked before the first weight is read: the config, the
 * memory budget of the backend, and every tensor name, shape and dtype.
 */
export function readCheckpoint(dir: string, options: LoadOptions = {}): { config: ShowoConfig; vars: Map<string, tf.Variable> } {
  const configFile = path.join(dir, CONFIG_FILE_NAME);
  if (!options.config && !fs.existsSync(configFile)) throw new ShowoConfigError([`no ${CONFIG_FILE_NAME} in the checkpoint folder`], dir);
  const config = options.config ?? readShowoConfig(configFile);
  assertModelFits(config, options);
  const file = resolveWeightsFile(dir, options.weightsFile);
  const reader = SafetensorsReader.open(file);
  const vars = new Map<string, tf.Variable>();
  try {
    const specs = paramSpecs(config);
    checkHeader(reader, specs, options.ignoreTensor ?? defaultIgnore);
    for (const spec of specs) {
      const host = reader.read(spec.name); // float32 (F16/BF16 widened)
      let data = host.data as Float32Array;
      if (spec.kind === 'linear') data = transposeHost(data, spec.shape[0], spec.shape[1]);
      // The backend takes over the array (cpu keeps it, wasm/tensorflow copy it); no other reference survives.
      const t = tf.tensor(data, memoryShape(spec), 'float32');
      vars.set(spec.name, tf.variable(t, true));
      t.dispose();
    }
  } catch (e) {
    for (const v of vars.values()) v.dispose();
    throw e;
  } finally {
    reader.close();
  }
  return { config, vars };
}

/**
 * Writes `config.json` and the weights (official names and [out, in] layout) atomically. Tensors are produced
 * one at a time as the writer asks for them, so saving a large model holds one extra tensor on the host, not a
 * second copy of the model.
 */
export function writeCheckpoint(dir: string, config: ShowoConfig, vars: Map<string, tf.Variable>, options: SaveOptions = {}): void {
  const dtype: SafetensorsDType = options.dtype ?? 'F32';
  const specs = paramSpecs(config);
  // One-slot cache: `data` is a getter evaluated when the writer reaches the tensor; the previous tensor's host
  // copy is released as soon as the next one is requested.
  let slot: { name: string; data: Float32Array } | undefined;
  const hostData = (spec: ParamSpec): Float32Array => {
    if (slot?.name === spec.name) return slot.data;
    slot = undefined;
    const v = vars.get(spec.name);
    if (!v) throw new Error(`internal: no variable ${spec.name}`);
    let data = v.dataSync() as Float32Array;
    if (spec.kind === 'linear') data = transposeHost(data, spec.shape[1], spec.shape[0]); // [in,out] → [out,in]
    slot = { name: spec.name, data };
    return data;
  };
  const tensors = new Map<string, TensorToWrite>();
  for (const spec of specs) {
    tensors.set(spec.name, {
      dtype,
      shape: spec.shape,
      get data() {
        return hostData(spec);
      },
    });
  }
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, options.weightsFile ?? WEIGHTS_FILE_NAMES[0]), tensors, { format: 'pt', producer: 'showo-ts' });
  slot = undefined;
  writeFileAtomic(path.join(dir, CONFIG_FILE_NAME), JSON.stringify(configToJson(config), null, 2) + '\n');
}

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readSafetensors, writeFileAtomic, writeSafetensors, type HostTensor, type TensorToWrite } from '@showo/runtime';
import { CheckpointError } from './errors.js';
import type { AdamW, AdamWState } from './optim/adamw.js';
import type { WeightAverage, WeightAverageState } from './optim/average.js';
import type { JsonValue, VariableSet } from './types.js';

/** `format` of every trainer checkpoint manifest. */
export const CHECKPOINT_FORMAT = 'showo-trainer-checkpoint';
/** Manifest version this code writes and reads. */
export const CHECKPOINT_VERSION = 1;

const MODEL_FILE = 'model.safetensors';
const OPTIMIZER_FILE = 'optimizer.safetensors';
const AVERAGE_FILE = 'average.safetensors';
const STATE_FILE = 'state.json';
const MANIFEST_FILE = 'manifest.json';
const LATEST_FILE = 'latest.json';
const STEP_DIR = /^step-(\d+)$/;

/** `manifest.json`: written last, so a folder with a valid manifest is a complete checkpoint. */
export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  step: number;
  createdAt: string;
  /** Caller-chosen identity of the model/run (e.g. a hash of the model config); checked on resume. */
  fingerprint: string | null;
  /** Byte size and SHA-256 of every other file of the folder. */
  files: Record<string, { bytes: number; sha256: string }>;
  /** Saved parameters, in file order. */
  variables: Array<{ name: string; shape: number[] }>;
}

/** `state.json`: everything that is not a tensor. */
export interface CheckpointState {
  step: number;
  optimizer: AdamWState | null;
  /** The weight average's update count and decay, when the run kept one (its tensors: `average.safetensors`). */
  average?: WeightAverageState | null;
  /** Named states of random generators, data streams, … (see `Stateful`). */
  components: Record<string, JsonValue>;
  /** Free-form information (config, metrics so far). */
  meta: Record<string, JsonValue>;
}

/** Names the variables of a model: record keys, or `variable.name` for a list. */
export function namedVariables(set: VariableSet): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  if (Array.isArray(set)) {
    for (const v of set as readonly tf.Variable[]) out.set(v.name, v);
  } else {
    for (const [k, v] of Object.entries(set as Record<string, tf.Variable>)) out.set(k, v);
  }
  return out;
}

/** What {@link saveCheckpoint} writes. */
export interface SaveCheckpointInput {
  step: number;
  variables: ReadonlyMap<string, tf.Variable>;
  optimizer?: AdamW;
  /** A weight average (EMA) of the variables, saved next to them. */
  average?: WeightAverage;
  components?: Record<string, JsonValue>;
  meta?: Record<string, JsonValue>;
  fingerprint?: string;
}

/** Options of {@link saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /** Keep only the newest `keepLast` step folders (default: all). */
  keepLast?: number;
}

function stepDirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

function sha256File(file: string): string {
  // Chunked, so a large checkpoint is never held twice in memory.
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/**
 * Writes a checkpoint folder `<dir>/step-NNNNNNNN` atomically: every file goes into a hidden temporary folder, the
 * manifest (sizes and SHA-256 of the others) is written last, and the folder is renamed into place only when it
 * is complete; `<dir>/latest.json` then points at it. A crash at any moment leaves either the old or the new
 * checkpoint, never a half-written one. Returns the folder.
 */
export async function saveCheckpoint(dir: string, input: SaveCheckpointInput, options: SaveCheckpointOptions = {}): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  const name = stepDirName(input.step);
  const tmp = path.join(dir, `.tmp-${name}-${process.pid}-${Date.now()}`);
  fs.mkdirSync(tmp);
  try {
    const weights = new Map<string, TensorToWrite>();
    const variables: CheckpointManifest['variables'] = [];
    for (const [k, v] of input.variables) {
      weights.set(k, { dtype: 'F32', shape: v.shape, data: (await v.data()) as Float32Array });
      variables.push({ name: k, shape: [...v.shape] });
    }
    writeSafetensors(path.join(tmp, MODEL_FILE), weights, { format: CHECKPOINT_FORMAT });
    weights.clear();
    if (input.optimizer) writeSafetensors(path.join(tmp, OPTIMIZER_FILE), await input.optimizer.stateTensors(), { format: CHECKPOINT_FORMAT });
    if (input.average) writeSafetensors(path.join(tmp, AVERAGE_FILE), await input.average.stateTensors(), { format: CHECKPOINT_FORMAT });
    const state: CheckpointState = {
      step: input.step,
      optimizer: input.optimizer ? input.optimizer.getState() : null,
      average: input.average ? input.average.getState() : null,
      components: input.components ?? {},
      meta: input.meta ?? {},
    };
    writeFileAtomic(path.join(tmp, STATE_FILE), JSON.stringify(state));
    const files: CheckpointManifest['files'] = {};
    for (const f of fs.readdirSync(tmp).sort()) {
      const full = path.join(tmp, f);
      files[f] = { bytes: fs.statSync(full).size, sha256: sha256File(full) };
    }
    const manifest: CheckpointManifest = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      step: input.step,
      createdAt: new Date().toISOString(),
      fingerprint: input.fingerprint ?? null,
      files,
      variables,
    };
    writeFileAtomic(path.join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 1));
    const final = path.join(dir, name);
    if (fs.existsSync(final)) {
      // Re-saving a step (e.g. after a resume): move the old folder aside first; a directory rename cannot replace
      // a non-empty directory.
      const old = path.join(dir, `.old-${name}-${process.pid}-${Date.now()}`);
      fs.renameSync(final, old);
      fs.renameSync(tmp, final);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, final);
    }
    writeFileAtomic(path.join(dir, LATEST_FILE), JSON.stringify({ checkpoint: name, step: input.step }));
    if (options.keepLast !== undefined && options.keepLast > 0) pruneCheckpoints(dir, options.keepLast, name);
    return final;
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

function listStepDirs(dir: string): Array<{ name: string; step: number }> {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && STEP_DIR.test(d.name))
    .map((d) => ({ name: d.name, step: Number(STEP_DIR.exec(d.name)![1]) }))
    .sort((a, b) => a.step - b.step);
}

function pruneCheckpoints(dir: string, keepLast: number, keep: string): void {
  const all = listStepDirs(dir);
  for (const { name } of all.slice(0, Math.max(0, all.length - keepLast))) {
    if (name !== keep) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

/** Removes temporary folders a crashed save left in `dir` (call only when no other process writes there). */
export function removeStaleTemporaries(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const d of fs.readdirSync(dir)) {
    if (d.startsWith('.tmp-step-') || d.startsWith('.old-step-')) fs.rmSync(path.join(dir, d), { recursive: true, force: true });
  }
}

/**
 * The newest complete checkpoint folder in `dir` (the one `latest.json` names, else the highest `step-*` folder
 * with a manifest), or `undefined` when there is none.
 */
export function findLatestCheckpoint(dir: string): string | undefined {
  const latest = path.join(dir, LATEST_FILE);
  if (fs.existsSync(latest)) {
    try {
      const { checkpoint } = JSON.parse(fs.readFileSync(latest, 'utf8')) as { checkpoint?: unknown };
      if (typeof checkpoint === 'string' && STEP_DIR.test(checkpoint) && fs.existsSync(path.join(dir, checkpoint, MANIFEST_FILE))) {
        return path.join(dir, checkpoint);
      }
    } catch {
      /* unreadable pointer: fall back to scanning */
    }
  }
  const dirs = listStepDirs(dir).filter((d) => fs.existsSync(path.join(dir, d.name, MANIFEST_FILE)));
  return dirs.length ? path.join(dir, dirs[dirs.length - 1].name) : undefined;
}

/** A checkpoint read and verified, not yet applied. */
export interface LoadedCheckpoint {
  path: string;
  manifest: CheckpointManifest;
  state: CheckpointState;
  weights: Map<string, HostTensor>;
  optimizerTensors: Map<string, HostTensor>;
  /** The weight average's tensors (empty when the run kept none). */
  averageTensors: Map<string, HostTensor>;
}

function readManifest(dir: string): CheckpointManifest {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new CheckpointError('MISSING', dir, 'no such checkpoint folder');
  const file = path.join(dir, MANIFEST_FILE);
  if (!fs.existsSync(file)) throw new CheckpointError('MISSING', dir, `${MANIFEST_FILE} is missing (incomplete or not a checkpoint)`);
  let m: CheckpointManifest;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as CheckpointManifest;
  } catch (e) {
    throw new CheckpointError('CORRUPT', dir, `${MANIFEST_FILE} is not valid JSON`, { cause: e });
  }
  if (!m || m.format !== CHECKPOINT_FORMAT) throw new CheckpointError('FORMAT', dir, `${MANIFEST_FILE} is not a ${CHECKPOINT_FORMAT} manifest`);
  if (m.version !== CHECKPOINT_VERSION) throw new CheckpointError('FORMAT', dir, `manifest version ${m.version} is not supported (this code reads ${CHECKPOINT_VERSION})`);
  if (!Number.isInteger(m.step) || m.step < 0 || typeof m.files !== 'object' || !Array.isArray(m.variables)) {
    throw new CheckpointError('CORRUPT', dir, `${MANIFEST_FILE} lacks step, files or variables`);
  }
  return m;
}

/**
 * Reads and verifies a checkpoint folder: manifest format, every file's size and SHA-256, the safetensors headers,
 * and (when given) the fingerprint. Throws {@link CheckpointError} (`MISSING`, `CORRUPT`, `FORMAT`, `MISMATCH`).
 */
export function readCheckpoint(dir: string, options: { fingerprint?: string } = {}): LoadedCheckpoint {
  const manifest = readManifest(dir);
  for (const required of [MODEL_FILE, STATE_FILE]) {
    if (!manifest.files[required]) throw new CheckpointError('CORRUPT', dir, `manifest does not list ${required}`);
  }
  for (const [f, info] of Object.entries(manifest.files)) {
    const full = path.join(dir, f);
    if (!fs.existsSync(full)) throw new CheckpointError('CORRUPT', dir, `${f} is missing`);
    const bytes = fs.statSync(full).size;
    if (bytes !== info.bytes) throw new CheckpointError('CORRUPT', dir, `${f} has ${bytes} bytes, the manifest says ${info.bytes}`);
    if (sha256File(full) !== info.sha256) throw new CheckpointError('CORRUPT', dir, `${f} does not match its SHA-256 in the manifest (altered or damaged)`);
  }
  if (options.fingerprint !== undefined && manifest.fingerprint !== options.fingerprint) {
    throw new CheckpointError('MISMATCH', dir, `it was written for "${manifest.fingerprint}", this run is "${options.fingerprint}"`);
  }
  let state: CheckpointState;
  let weights: Map<string, HostTensor>;
  let optimizerTensors = new Map<string, HostTensor>();
  let averageTensors = new Map<string, HostTensor>();
  try {
    state = JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')) as CheckpointState;
    weights = readSafetensors(path.join(dir, MODEL_FILE)).tensors;
    if (manifest.files[OPTIMIZER_FILE]) optimizerTensors = readSafetensors(path.join(dir, OPTIMIZER_FILE)).tensors;
    if (manifest.files[AVERAGE_FILE]) averageTensors = readSafetensors(path.join(dir, AVERAGE_FILE)).tensors;
  } catch (e) {
    throw new CheckpointError('CORRUPT', dir, `cannot read its files: ${(e as Error).message}`, { cause: e });
  }
  if (state.step !== manifest.step) throw new CheckpointError('CORRUPT', dir, `${STATE_FILE} is at step ${state.step}, the manifest at ${manifest.step}`);
  if (state.average && averageTensors.size === 0) throw new CheckpointError('CORRUPT', dir, `${STATE_FILE} records a weight average but ${AVERAGE_FILE} is not listed`);
  return { path: dir, manifest, state, weights, optimizerTensors, averageTensors };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Checks that a checkpoint's weights are exactly the given variables (same names, same shapes). */
export function checkVariablesMatch(ckpt: LoadedCheckpoint, variables: ReadonlyMap<string, tf.Variable>): void {
  const missing = [...variables.keys()].filter((k) => !ckpt.weights.has(k));
  const extra = [...ckpt.weights.keys()].filter((k) => !variables.has(k));
  if (missing.length || extra.length) {
    const list = (xs: string[]) => xs.slice(0, 5).join(', ') + (xs.length > 5 ? `, … (${xs.length})` : '');
    throw new CheckpointError(
      'MISMATCH',
      ckpt.path,
      `its parameters differ from the model's` + (missing.length ? `; missing: ${list(missing)}` : '') + (extra.length ? `; unexpected: ${list(extra)}` : ''),
    );
  }
  for (const [k, v] of variables) {
    const w = ckpt.weights.get(k)!;
    if (!sameShape(w.shape, v.shape)) {
      throw new CheckpointError('MISMATCH', ckpt.path, `parameter "${k}" is [${w.shape.join(',')}] in the checkpoint but [${v.shape.join(',')}] in the model`);
    }
  }
}

/**
 * Assigns verified checkpoint weights to the variables (call {@link checkVariablesMatch} first); with `averaged`,
 * the run's weight average instead (a {@link CheckpointError} when the checkpoint has none).
 */
export function assignWeights(ckpt: LoadedCheckpoint, variables: ReadonlyMap<string, tf.Variable>, options: { averaged?: boolean } = {}): void {
  const source = options.averaged ? ckpt.averageTensors : ckpt.weights;
  if (options.averaged && source.size === 0) throw new CheckpointError('MISSING', ckpt.path, 'it holds no weight average (the run was trained without one)');
  for (const [k, v] of variables) {
    const w = source.get(k);
    if (!w) throw new CheckpointError('MISMATCH', ckpt.path, `its weight average has no "${k}"`);
    tf.tidy(() => v.assign(tf.tensor(w.data, v.shape, 'float32')));
  }
}

/**
 * Loads only the model weights of a checkpoint (e.g. to start stage 2 from stage 1's result with a fresh
 * optimiser; `averaged: true` loads the run's weight average instead). Verifies the checkpoint and refuses one
 * whose parameters differ from `variables`.
 */
export function loadCheckpointWeights(dir: string, variables: ReadonlyMap<string, tf.Variable>, options: { fingerprint?: string; averaged?: boolean } = {}): LoadedCheckpoint {
  const ckpt = readCheckpoint(dir, options);
  checkVariablesMatch(ckpt, variables);
  assignWeights(ckpt, variables, { averaged: options.averaged });
  return ckpt;
}

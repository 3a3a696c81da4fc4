import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ShowoError } from './errors.js';

/**
 * Backends a user can ask for. `tensorflow` is tfjs-node(-gpu) and `webgpu` is @tensorflow/tfjs-backend-webgpu
 * (in Node with the `webgpu` package, Dawn, providing `navigator.gpu`); both are present only when the user
 * installed them, and `auto` never picks `webgpu` (it must be asked for). In Node, tfjs-webgpu reads tensors back
 * only asynchronously (`data()`, not `dataSync()`); the trainer's loop and the sampling pipelines read that way,
 * so both run on it (training ran on an H200 through Dawn and Vulkan, scripts/embedded/gpu-train.sh).
 */
export type BackendName = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

/** A requested backend cannot be used here. */
export class BackendUnavailableError extends ShowoError {
  constructor(
    readonly backend: string,
    reason: string,
  ) {
    super('BACKEND_UNAVAILABLE', `backend "${backend}" is not available: ${reason}`);
  }
}

/** What `initBackend` chose and why. */
export interface BackendChoice {
  /** The tfjs backend now active: 'tensorflow', 'webgpu', 'wasm' or 'cpu'. */
  name: Exclude<BackendName, 'auto'>;
  /** Which package provided it (e.g. '@tensorflow/tfjs-node-gpu'). */
  provider: string;
  /** One line saying how it was chosen. */
  reason: string;
}

export interface InitBackendOptions {
  /** Where to report the choice (default: nothing). */
  log?: (line: string) => void;
  /** Environment to read SHOWO_BACKEND from (default process.env). */
  env?: Record<string, string | undefined>;
  /**
   * Module loader, for tests: resolves an optional package or throws when it is not installed. Default: dynamic
   * `import()`.
   */
  importModule?: (name: string) => Promise<unknown>;
}

const NODE_BACKENDS = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

let current: BackendChoice | undefined;

const defaultImport = (name: string): Promise<unknown> => import(/* optional package */ name);

async function tryTensorflow(importModule: (n: string) => Promise<unknown>): Promise<{ provider: string } | { error: string }> {
  const errors: string[] = [];
  for (const pkg of NODE_BACKENDS) {
    try {
      await importModule(pkg);
      if (tf.findBackend('tensorflow') || tf.engine().registryFactory['tensorflow']) return { provider: pkg };
      errors.push(`${pkg} loaded but registered no "tensorflow" backend`);
    } catch (e) {
      errors.push(`${pkg} not installed`);
    }
  }
  return { error: errors.join('; ') };
}

/** Folder holding the wasm binaries of @tensorflow/tfjs-backend-wasm, found on disk (never fetched). */
function wasmFolder(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  // main is .../tfjs-backend-wasm/dist/tf-backend-wasm.node.js (or similar); the .wasm files sit in dist/.
  return path.dirname(main) + path.sep;
}

let wasmLoadedHere = false;

async function tryWasm(importModule: (n: string) => Promise<unknown>): Promise<{ provider: string } | { error: string }> {
  // Already registered by a browser bundle, which imports the backend and sets its own wasm paths: nothing to load.
  if (tf.engine().registryFactory['wasm'] && !wasmLoadedHere) return { provider: '@tensorflow/tfjs-backend-wasm (registered by the app)' };
  try {
    const wasm = (await importModule('@tensorflow/tfjs-backend-wasm')) as { setWasmPaths?: (p: string) => void };
    wasmLoadedHere = true;
    try {
      wasm.setWasmPaths?.(wasmFolder());
    } catch {
      /* setWasmPaths may only be called before the backend initialises: already set */
    }
    return { provider: '@tensorflow/tfjs-backend-wasm' };
  } catch (e) {
    return { error: `@tensorflow/tfjs-backend-wasm not installed (${(e as Error).message.split('\n')[0]})` };
  }
}

interface DawnModule {
  create(options: string[]): unknown;
  globals: Record<string, unknown>;
}

/**
 * Makes `navigator.gpu` exist (Node has none: the optional `webgpu` package, Dawn, provides one) and loads
 * @tensorflow/tfjs-backend-webgpu, which registers its backend only when `navigator.gpu` is there at import time.
 */
async function tryWebgpu(importModule: (n: string) => Promise<unknown>, env: Record<string, string | undefined>): Promise<{ provider: string } | { error: string }> {
  // Already registered (an app or bundle imported the backend itself): nothing to load.
  if (tf.engine().registryFactory['webgpu']) return { provider: '@tensorflow/tfjs-backend-webgpu (registered by the app)' };
  const g = globalThis as { navigator?: { gpu?: unknown } };
  let provider = '@tensorflow/tfjs-backend-webgpu';
  if (!g.navigator?.gpu) {
    let dawn: DawnModule;
    try {
      dawn = (await importModule('webgpu')) as DawnModule;
    } catch (e) {
      return { error: `no navigator.gpu and the \`webgpu\` package (Dawn for Node) is not installed (${(e as Error).message.split('\n')[0]})` };
    }
    Object.assign(globalThis, dawn.globals);
    // Dawn toggles, e.g. SHOWO_DAWN_OPTIONS="backend=vulkan", one per comma.
    const options = (env.SHOWO_DAWN_OPTIONS ?? '').split(',').filter(Boolean);
    Object.defineProperty(globalThis, 'navigator', { value: { ...(g.navigator ?? {}), gpu: dawn.create(options) }, configurable: true, writable: true });
    provider += ' + webgpu (Dawn)';
  }
  try {
    await importModule('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    return { error: `@tensorflow/tfjs-backend-webgpu not installed (${(e as Error).message.split('\n')[0]})` };
  }
  if (!tf.engine().registryFactory['webgpu']) return { error: '@tensorflow/tfjs-backend-webgpu loaded but registered no "webgpu" backend' };
  // Asked first so that a machine without one gets our one-line error, not tfjs's logged stack trace.
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
  if (tf.getBackend() !== 'webgpu' && gpu && !(await gpu.requestAdapter().catch(() => null))) {
    return { error: 'no WebGPU adapter (is a GPU driver with Vulkan, Metal or D3D12 there?)' };
  }
  return { provider };
}

async function activate(name: Exclude<BackendName, 'auto'>): Promise<boolean> {
  if (tf.getBackend() === name) return true;
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/**
 * Selects and initialises the TensorFlow.js backend. `auto` (the default) prefers tfjs-node-gpu, then
 * tfjs-node, when the user has installed one, else wasm, else cpu. `SHOWO_BACKEND` overrides the argument
 * only when the argument is `auto` or missing (an explicit `--backend` flag wins). A backend that was asked for
 * explicitly and cannot be used is a {@link BackendUnavailableError}.
 */
export async function initBackend(requested: BackendName | string = 'auto', options: InitBackendOptions = {}): Promise<BackendChoice> {
  const env = options.env ?? process.env;
  const importModule = options.importModule ?? defaultImport;
  let want = requested as string;
  let source = 'requested';
  if ((want === 'auto' || !want) && env.SHOWO_BACKEND) {
    want = env.SHOWO_BACKEND;
    source = 'SHOWO_BACKEND';
  }
  if (!BACKEND_NAMES.includes(want as BackendName)) {
    throw new BackendUnavailableError(want, `unknown backend (choose one of ${BACKEND_NAMES.join(', ')})`);
  }
  let choice: BackendChoice;
  if (want === 'tensorflow') {
    const r = await tryTensorflow(importModule);
    if ('error' in r) throw new BackendUnavailableError('tensorflow', `${r.error}; install @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu`);
    if (!(await activate('tensorflow'))) throw new BackendUnavailableError('tensorflow', 'failed to initialise');
    choice = { name: 'tensorflow', provider: r.provider, reason: `${source} tensorflow` };
  } else if (want === 'webgpu') {
    const r = await tryWebgpu(importModule, env);
    if ('error' in r) throw new BackendUnavailableError('webgpu', r.error);
    if (!(await activate('webgpu'))) throw new BackendUnavailableError('webgpu', 'no WebGPU adapter (is a GPU driver with Vulkan, Metal or D3D12 there?)');
    choice = { name: 'webgpu', provider: r.provider, reason: `${source} webgpu` };
  } else if (want === 'wasm') {
    const r = await tryWasm(importModule);
    if ('error' in r) throw new BackendUnavailableError('wasm', r.error);
    if (!(await activate('wasm'))) throw new BackendUnavailableError('wasm', 'failed to initialise the wasm module');
    choice = { name: 'wasm', provider: r.provider, reason: `${source} wasm` };
  } else if (want === 'cpu') {
    if (!(await activate('cpu'))) throw new BackendUnavailableError('cpu', 'failed to initialise');
    choice = { name: 'cpu', provider: '@tensorflow/tfjs', reason: `${source} cpu` };
  } else {
    const notes: string[] = [];
    const t = await tryTensorflow(importModule);
    if ('provider' in t && (await activate('tensorflow'))) {
      choice = { name: 'tensorflow', provider: t.provider, reason: `auto: found ${t.provider}` };
    } else {
      notes.push('error' in t ? t.error : 'tensorflow failed to initialise');
      const w = await tryWasm(importModule);
      if ('provider' in w && (await activate('wasm'))) {
        choice = { name: 'wasm', provider: w.provider, reason: `auto: ${notes.join('; ')}; using wasm` };
      } else {
        notes.push('error' in w ? w.error : 'wasm failed to initialise');
        if (!(await activate('cpu'))) throw new BackendUnavailableError('auto', notes.join('; '));
        choice = { name: 'cpu', provider: '@tensorflow/tfjs', reason: `auto: ${notes.join('; ')}; using cpu` };
      }
    }
  }
  await tf.ready();
  current = choice;
  options.log?.(`[showo] backend: ${choice.name} (${choice.provider}) — ${choice.reason}`);
  return choice;
}

/** The backend chosen by the last {@link initBackend}, if any. */
export function currentBackend(): BackendChoice | undefined {
  return current;
}

/**
 * Messages between a {@link DualEngine} and its worker, and the tensor wire format. Tensors travel as plain
 * typed-array buffers (transferred, not copied, by `postMessage`); nothing here depends on a backend.
 */
import * as tf from '@tensorflow/tfjs';

/** Named tensors: the inputs and outputs of an engine function, and the weights. */
export type NamedTensors = Record<string, tf.Tensor>;

/** A tensor on the wire. */
export interface WireTensor {
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
  data: ArrayBuffer;
}
export type WireTensors = Record<string, WireTensor>;

export type ToWorker =
  | { type: 'init'; moduleUrl: string; backend: string }
  | { type: 'setWeights'; id: number; weights: WireTensors; replace: boolean }
  | { type: 'call'; id: number; fn: string; inputs: WireTensors; options: unknown; grads?: string[]; parallel?: boolean }
  | { type: 'exchange'; id: number; buffer: SharedArrayBuffer }
  | { type: 'resetState'; id: number }
  | { type: 'memory'; id: number }
  | { type: 'dispose'; id: number };

export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'done'; id: number; outputs?: WireTensors; value?: number; aux?: Record<string, number>; extra?: unknown }
  | { type: 'error'; id: number; message: string; stack?: string };

/**
 * Reads a tensor into a buffer of its own that may be transferred (moved, not copied, by `postMessage`). On wasm
 * `dataSync` already returns a fresh copy of the heap bytes; other backends (cpu) may return their own storage, which
 * is then copied once so that transferring it cannot detach a live tensor.
 */
export function toWire(t: tf.Tensor): WireTensor {
  const dtype = t.dtype as WireTensor['dtype'];
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') throw new Error(`cannot send a ${t.dtype} tensor to a worker`);
  const src = t.dataSync() as Float32Array | Int32Array | Uint8Array;
  const own = tf.getBackend() === 'wasm' && src.byteOffset === 0 && src.byteLength === src.buffer.byteLength ? src : src.slice();
  return { shape: t.shape.slice(), dtype, data: own.buffer as ArrayBuffer };
}

export function toWireAll(ts: NamedTensors): { wire: WireTensors; transfer: ArrayBuffer[] } {
  const wire: WireTensors = {};
  const transfer: ArrayBuffer[] = [];
  for (const [name, t] of Object.entries(ts)) {
    wire[name] = toWire(t);
    transfer.push(wire[name].data);
  }
  return { wire, transfer };
}

export function fromWire(w: WireTensor): tf.Tensor {
  const values = w.dtype === 'float32' ? new Float32Array(w.data) : w.dtype === 'int32' ? new Int32Array(w.data) : new Uint8Array(w.data);
  return tf.tensor(values, w.shape, w.dtype);
}

export function fromWireAll(ws: WireTensors): NamedTensors {
  const out: NamedTensors = {};
  for (const [name, w] of Object.entries(ws)) out[name] = fromWire(w);
  return out;
}

/**
 * Kernels the wasm backend of tfjs 4.22 lacks or implements too slowly for the primitives, registered once.
 *
 * Only kernels that the wasm backend does NOT register are added (checked with `tf.getKernel`), so a future
 * tfjs release that ships its own keeps it. Nothing is registered for other backends: `cpu` and `tensorflow`
 * have every kernel used here. Registration happens when this module is imported (side effect), before or after
 * the wasm backend initialises — tfjs's kernel registry is keyed by name and does not need the backend to exist.
 *
 * - `UnsortedSegmentSum`: the gradient of `tf.gather` (so of every embedding lookup) calls it; without it,
 *   training any embedding on wasm throws. Scatter-add in JS over the heap: O(ids × row), no [ids, V] one-hot.
 * - `ShowoUnstack0`: a new kernel name (not an override) splitting a tensor along axis 0 into contiguous pieces.
 *   wasm's own `Slice`/`Unpack` copy the *whole* input out of the heap once per piece (`readSync`), so splitting
 *   [B·H, L, D] into B·H heads costs O((B·H)² · L · D): 116 ms for 64 × [300, 64] versus ~1 ms here.
 * - `ShowoGatherRows`: a new kernel name, rows of a 2-D table by 1-D int32 ids (an embedding lookup) as one
 *   memcpy per row. wasm's `GatherV2` spends ~70 ns per element (10 ms for 582 rows of 256).
 */
import * as tf from '@tensorflow/tfjs';

/** Name of the fast axis-0 unstack kernel (wasm only). */
export const UNSTACK0_KERNEL = 'ShowoUnstack0';
/** Name of the fast row-gather kernel (wasm only). */
export const GATHER_ROWS_KERNEL = 'ShowoGatherRows';

type TypedArray = Float32Array | Int32Array | Uint8Array;

/**
 * The part of the wasm backend's kernel-facing API these kernels use (public methods of `BackendWasm`, also what
 * its own JS kernels such as Concat use). Checked at call time, so a backend without them fails with a clear message.
 */
interface WasmLikeBackend {
  readSync(dataId: unknown): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): TypedArray;
}

function asWasm(backend: unknown, kernel: string): WasmLikeBackend {
  const b = backend as Partial<WasmLikeBackend>;
  if (typeof b.makeOutput !== 'function' || typeof b.typedArrayFromHeap !== 'function' || typeof b.readSync !== 'function') {
    throw new Error(`${kernel}: backend lacks makeOutput/typedArrayFromHeap (not the wasm backend?)`);
  }
  return b as WasmLikeBackend;
}

function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** out[ids[i], ...] += x[i, ...] (TF semantics: ids outside [0, numSegments) are dropped). */
const unsortedSegmentSumWasm: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = asWasm(backend, 'UnsortedSegmentSum');
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (attrs as { numSegments: number }).numSegments;
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  const inner = size(outShape) / Math.max(numSegments, 1);
  // readSync copies: fine, x and ids are read once each.
  const xv = wasm.readSync(x.dataId) as TypedArray;
  const ids = wasm.readSync(segmentIds.dataId) as TypedArray;
  const out = wasm.makeOutput(outShape, x.dtype);
  // Take the heap view after allocating: growing the heap detaches earlier views.
  const ov = wasm.typedArrayFromHeap(out);
  ov.fill(0); // the heap block comes from malloc, not zeroed
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const o = s * inner;
    const src = i * inner;
    for (let j = 0; j < inner; j++) ov[o + j] += xv[src + j];
  }
  return out;
};

/** Splits x along axis 0 into x.shape[0] tensors of shape x.shape.slice(1), one copy of the data in total. */
const unstack0Wasm: tf.KernelFunc = ({ inputs, backend }) => {
  const wasm = asWasm(backend, UNSTACK0_KERNEL);
  const { x } = inputs as { x: tf.TensorInfo };
  const n = x.shape[0];
  const pieceShape = x.shape.slice(1);
  const inner = size(pieceShape);
  const outs: tf.TensorInfo[] = [];
  for (let i = 0; i < n; i++) outs.push(wasm.makeOutput(pieceShape, x.dtype));
  // Views taken after every allocation (see above).
  const xv = wasm.typedArrayFromHeap(x);
  for (let i = 0; i < n; i++) wasm.typedArrayFromHeap(outs[i]).set(xv.subarray(i * inner, (i + 1) * inner));
  return outs;
};

/** out[i, :] = table[ids[i], :] for a 2-D table and 1-D int32 ids; an id outside [0, V) throws. */
const gatherRowsWasm: tf.KernelFunc = ({ inputs, backend }) => {
  const wasm = asWasm(backend, GATHER_ROWS_KERNEL);
  const { table, ids } = inputs as { table: tf.TensorInfo; ids: tf.TensorInfo };
  const [rows, width] = table.shape;
  const idv = wasm.readSync(ids.dataId) as Int32Array;
  for (let i = 0; i < idv.length; i++) {
    if (!(idv[i] >= 0 && idv[i] < rows)) throw new Error(`${GATHER_ROWS_KERNEL}: id ${idv[i]} at position ${i} is outside [0, ${rows})`);
  }
  const out = wasm.makeOutput([idv.length, width], table.dtype);
  const ov = wasm.typedArrayFromHeap(out);
  const tv = wasm.typedArrayFromHeap(table);
  for (let i = 0; i < idv.length; i++) ov.set(tv.subarray(idv[i] * width, (idv[i] + 1) * width), i * width);
  return out;
};

let registered = false;

/**
 * Registers the missing wasm kernels (idempotent; also run when this module is imported). Call it again after
 * loading a backend package late only if that package might have replaced them — it never overrides a kernel that
 * exists.
 */
export function registerFastKernels(): void {
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSumWasm });
  }
  if (!tf.getKernel(UNSTACK0_KERNEL, 'wasm')) {
    tf.registerKernel({ kernelName: UNSTACK0_KERNEL, backendName: 'wasm', kernelFunc: unstack0Wasm });
  }
  if (!tf.getKernel(GATHER_ROWS_KERNEL, 'wasm')) {
    tf.registerKernel({ kernelName: GATHER_ROWS_KERNEL, backendName: 'wasm', kernelFunc: gatherRowsWasm });
  }
  if (!registered && !tf.getGradient(UNSTACK0_KERNEL)) {
    // Differentiable like tf.unstack, in case someone calls it under a tape: the gradient restacks the pieces.
    tf.registerGradient({
      kernelName: UNSTACK0_KERNEL,
      inputsToSave: ['x'],
      gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const x = saved[0];
        const list = Array.isArray(dys) ? dys : [dys];
        return { x: () => tf.stack(list.map((d) => d ?? tf.zeros(x.shape.slice(1)))) };
      },
    });
  }
  registered = true;
}

registerFastKernels();

/**
 * `tf.unstack(x, 0)` with one copy of the data on wasm (see {@link UNSTACK0_KERNEL}); plain `tf.unstack` elsewhere.
 * Differentiable on every backend.
 */
export function unstack0(x: tf.Tensor): tf.Tensor[] {
  if (x.shape[0] === 1) return [x.reshape(x.shape.slice(1))];
  if (tf.getBackend() === 'wasm' && tf.getKernel(UNSTACK0_KERNEL, 'wasm')) {
    return tf.engine().runKernel(UNSTACK0_KERNEL, { x }, {}) as unknown as tf.Tensor[];
  }
  return tf.unstack(x, 0);
}

/**
 * `tf.gather(table, ids)` for a 2-D table and 1-D int32 ids: one memcpy per row on wasm (see
 * {@link GATHER_ROWS_KERNEL}), `tf.gather` elsewhere. Not differentiable by itself: `embedding` wraps it.
 */
export function gatherRows(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  if (tf.getBackend() === 'wasm' && tf.getKernel(GATHER_ROWS_KERNEL, 'wasm') && ids.dtype === 'int32') {
    return tf.engine().runKernel(GATHER_ROWS_KERNEL, { table, ids }, {}) as tf.Tensor2D;
  }
  return tf.gather(table, ids);
}

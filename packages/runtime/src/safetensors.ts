import fs from 'node:fs';
import path from 'node:path';
import { ShowoError } from './errors.js';

/** Element types this library reads and writes. F16/BF16 are widened to float32 on read; I64 narrowed to int32. */
export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64';

const BYTES_PER_ELEMENT: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };

/** Why a safetensors file was refused. */
export type SafetensorsProblem =
  | 'TRUNCATED'
  | 'BAD_HEADER'
  | 'OFFSETS_OUT_OF_RANGE'
  | 'OFFSETS_OVERLAP'
  | 'UNKNOWN_DTYPE'
  | 'SHAPE_MISMATCH'
  | 'UNKNOWN_TENSOR'
  | 'VALUE_OUT_OF_RANGE';

/** A corrupt, truncated or otherwise unreadable safetensors file (or a bad request against one). */
export class SafetensorsError extends ShowoError {
  readonly problem: SafetensorsProblem;
  readonly file: string;
  constructor(problem: SafetensorsProblem, file: string, message: string) {
    super(`SAFETENSORS_${problem}`, `${file}: ${message}`);
    this.problem = problem;
    this.file = file;
  }
}

/** Header entry of one tensor; offsets are absolute byte positions in the file. */
export interface TensorEntry {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** absolute byte offset of the first byte */
  readonly start: number;
  readonly byteLength: number;
}

/** A tensor read into memory: float dtypes as Float32Array, integer dtypes as Int32Array. */
export interface HostTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** A tensor to write: `data` is converted to `dtype` on the way out. */
export interface TensorToWrite {
  dtype: SafetensorsDType;
  shape: readonly number[];
  data: ArrayLike<number>;
}

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * An open safetensors file. Only the header is read on open; tensors are read one at a time with positioned
 * reads, so a file larger than memory (or than Node's 4 GiB Buffer limit) can be loaded tensor by tensor
 * without ever holding two copies of the weights.
 */
export class SafetensorsReader {
  readonly file: string;
  readonly metadata: Readonly<Record<string, string>>;
  private readonly entries: Map<string, TensorEntry>;
  private fd: number | undefined;

  private constructor(file: string, fd: number, entries: Map<string, TensorEntry>, metadata: Record<string, string>) {
    this.file = file;
    this.fd = fd;
    this.entries = entries;
    this.metadata = metadata;
  }

  /** Opens `file` and validates its header (every check happens here, before any tensor is read). */
  static open(file: string): SafetensorsReader {
    const fd = fs.openSync(file, 'r');
    try {
      const { entries, metadata } = parseHeader(file, fd);
      return new SafetensorsReader(file, fd, entries, metadata);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Tensor names in file order. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  entry(name: string): TensorEntry {
    const e = this.entries.get(name);
    if (!e) throw new SafetensorsError('UNKNOWN_TENSOR', this.file, `no tensor named "${name}"`);
    return e;
  }

  /** Reads one tensor, widening F16/BF16 to float32 and narrowing I64 to int32 (values must fit). */
  read(name: string): HostTensor {
    const e = this.entry(name);
    if (this.fd === undefined) throw new SafetensorsError('TRUNCATED', this.file, 'reader is closed');
    const bytes = Buffer.allocUnsafe(e.byteLength);
    let done = 0;
    while (done < e.byteLength) {
      const n = fs.readSync(this.fd, bytes, done, e.byteLength - done, e.start + done);
      if (n === 0) throw new SafetensorsError('TRUNCATED', this.file, `unexpected end of file in "${name}"`);
      done += n;
    }
    return { dtype: e.dtype, shape: [...e.shape], data: decode(this.file, name, e.dtype, bytes) };
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

function parseHeader(file: string, fd: number): { entries: Map<string, TensorEntry>; metadata: Record<string, string> } {
  const size = fs.fstatSync(fd).size;
  if (size < 8) throw new SafetensorsError('TRUNCATED', file, `file has ${size} bytes, less than the 8-byte header length`);
  const lenBuf = Buffer.alloc(8);
  fs.readSync(fd, lenBuf, 0, 8, 0);
  const headerLen = Number(lenBuf.readBigUInt64LE(0));
  if (headerLen > MAX_HEADER_BYTES) throw new SafetensorsError('BAD_HEADER', file, `header length ${headerLen} is implausible`);
  if (8 + headerLen > size) throw new SafetensorsError('TRUNCATED', file, `header needs ${headerLen} bytes but the file ends at ${size}`);
  const headerBuf = Buffer.alloc(headerLen);
  fs.readSync(fd, headerBuf, 0, headerLen, 8);
  let header: unknown;
  try {
    header = JSON.parse(headerBuf.toString('utf8'));
  } catch (e) {
    throw new SafetensorsError('BAD_HEADER', file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new SafetensorsError('BAD_HEADER', file, 'header is not a JSON object');
  }
  const dataStart = 8 + headerLen;
  const dataLen = size - dataStart;
  const entries = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  const ranges: Array<[number, number, string]> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null) throw new SafetensorsError('BAD_HEADER', file, '__metadata__ is not an object');
      metadata = Object.fromEntries(Object.entries(raw as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== 'object' || info === null) throw new SafetensorsError('BAD_HEADER', file, `entry "${name}" is not an object`);
    if (typeof info.dtype !== 'string' || !(info.dtype in BYTES_PER_ELEMENT)) {
      throw new SafetensorsError('UNKNOWN_DTYPE', file, `tensor "${name}" has unsupported dtype ${JSON.stringify(info.dtype)} (supported: F32, F16, BF16, I32, I64)`);
    }
    const dtype = info.dtype as SafetensorsDType;
    if (!Array.isArray(info.shape) || !info.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new SafetensorsError('BAD_HEADER', file, `tensor "${name}" has an invalid shape`);
    }
    const off = info.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[1] < off[0]) {
      throw new SafetensorsError('BAD_HEADER', file, `tensor "${name}" has invalid data_offsets`);
    }
    const [begin, end] = off as [number, number];
    if (end > dataLen) {
      throw new SafetensorsError(
        dataLen < end && begin <= dataLen ? 'TRUNCATED' : 'OFFSETS_OUT_OF_RANGE',
        file,
        `tensor "${name}" spans bytes ${begin}..${end} but the data section has ${dataLen} bytes`,
      );
    }
    const shape = info.shape as number[];
    const expected = elementCount(shape) * BYTES_PER_ELEMENT[dtype];
    if (expected !== end - begin) {
      throw new SafetensorsError('SHAPE_MISMATCH', file, `tensor "${name}" [${shape.join(',')}] ${dtype} needs ${expected} bytes, offsets give ${end - begin}`);
    }
    entries.set(name, { name, dtype, shape, start: dataStart + begin, byteLength: end - begin });
    ranges.push([begin, end, name]);
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) {
      throw new SafetensorsError('OFFSETS_OVERLAP', file, `tensors "${ranges[i - 1][2]}" and "${ranges[i][2]}" overlap`);
    }
  }
  return { entries, metadata };
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

function f32ToF16(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

function f32ToBf16(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0];
  if ((x & 0x7fffffff) > 0x7f800000) return 0x7fc0; // NaN
  const rounded = x + 0x7fff + ((x >>> 16) & 1); // round to nearest even
  return (rounded >>> 16) & 0xffff;
}

function decode(file: string, name: string, dtype: SafetensorsDType, bytes: Buffer): Float32Array | Int32Array {
  const n = bytes.byteLength / BYTES_PER_ELEMENT[dtype];
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(n);
      new Uint8Array(out.buffer).set(bytes);
      return out;
    }
    case 'I32': {
      const out = new Int32Array(n);
      new Uint8Array(out.buffer).set(bytes);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16ToF32(bytes.readUInt16LE(2 * i));
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(n);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = bytes.readUInt16LE(2 * i) << 16;
      return out;
    }
    case 'I64': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = bytes.readBigInt64LE(8 * i);
        if (v > 2147483647n || v < -2147483648n) {
          throw new SafetensorsError('VALUE_OUT_OF_RANGE', file, `tensor "${name}" holds ${v} at element ${i}, outside int32`);
        }
        out[i] = Number(v);
      }
      return out;
    }
  }
}

function encode(t: TensorToWrite): Buffer {
  const n = elementCount(t.shape);
  if (t.data.length !== n) throw new RangeError(`shape [${t.shape.join(',')}] needs ${n} values, got ${t.data.length}`);
  const buf = Buffer.allocUnsafe(n * BYTES_PER_ELEMENT[t.dtype]);
  switch (t.dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) buf.writeFloatLE(t.data[i], 4 * i);
      break;
    case 'I32':
      for (let i = 0; i < n; i++) buf.writeInt32LE(t.data[i], 4 * i);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) buf.writeUInt16LE(f32ToF16(t.data[i]), 2 * i);
      break;
    case 'BF16':
      for (let i = 0; i < n; i++) buf.writeUInt16LE(f32ToBf16(t.data[i]), 2 * i);
      break;
    case 'I64':
      for (let i = 0; i < n; i++) buf.writeBigInt64LE(BigInt(Math.trunc(t.data[i])), 8 * i);
      break;
  }
  return buf;
}

/**
 * Writes tensors (in the given order) and optional `__metadata__` to `file` atomically: the bytes go to a
 * temporary file in the same folder, are flushed to disk, and only then renamed over `file`, so a crash never
 * leaves a half-written checkpoint behind.
 */
export function writeSafetensors(file: string, tensors: Record<string, TensorToWrite> | Map<string, TensorToWrite>, metadata?: Record<string, string>): void {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of list) {
    if (!(t.dtype in BYTES_PER_ELEMENT)) throw new SafetensorsError('UNKNOWN_DTYPE', file, `cannot write dtype ${t.dtype} for "${name}"`);
    const len = elementCount(t.shape) * BYTES_PER_ELEMENT[t.dtype];
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + len] };
    offset += len;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(headerBytes.byteLength));
  writeAtomically(file, (fd) => {
    fs.writeSync(fd, lenBuf);
    fs.writeSync(fd, headerBytes);
    for (const [, t] of list) fs.writeSync(fd, encode(t)); // one tensor at a time: never the whole file in memory
  });
}

/** Reads every tensor of a (small) safetensors file into memory. */
export function readSafetensors(file: string): { tensors: Map<string, HostTensor>; metadata: Record<string, string> } {
  const reader = SafetensorsReader.open(file);
  try {
    const tensors = new Map<string, HostTensor>();
    for (const name of reader.names()) tensors.set(name, reader.read(name));
    return { tensors, metadata: { ...reader.metadata } };
  } finally {
    reader.close();
  }
}

/**
 * Runs `write(fd)` on a temporary file beside `file`, flushes it to disk and renames it over `file`: readers see
 * the old contents or the new ones, never a half-written file. On error the temporary file is removed.
 */
function writeAtomically(file: string, write: (fd: number) => void): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const fd = fs.openSync(tmp, 'w');
  let open = true;
  try {
    write(fd);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    open = false;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (open) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writes a text file atomically (temp file + fsync + rename). Used for config.json and checkpoint manifests. */
export function writeFileAtomic(file: string, contents: string | Uint8Array): void {
  writeAtomically(file, (fd) => {
    if (typeof contents === 'string') fs.writeSync(fd, contents);
    else fs.writeSync(fd, contents);
  });
}

/**
 * The parameter list of a config, in the official `state_dict` order with official names, and the layout
 * conversions between PyTorch files and tfjs tensors.
 */
import { attentionLevels } from './config.js';
import type { MagvitConfig } from './types.js';

/** One learnable tensor. `torchShape` is its shape in official files ([out, in, kh, kw] for convs). */
export interface ParamSpec {
  name: string;
  torchShape: number[];
  /** conv: stored in tfjs as [kh, kw, in, out]; vector: 1-D (biases, GroupNorm scales and shifts). */
  kind: 'conv' | 'vector';
}

/** Official non-learnable buffers of `LFQuantizer`, written to saved files for compatibility. */
export const QUANTIZER_BUFFERS = ['quantize.embedding', 'quantize.power_vals'] as const;

class SpecList {
  readonly specs: ParamSpec[] = [];
  conv(name: string, out: number, inp: number, k: number): void {
    this.specs.push({ name: `${name}.weight`, torchShape: [out, inp, k, k], kind: 'conv' });
    this.specs.push({ name: `${name}.bias`, torchShape: [out], kind: 'vector' });
  }
  norm(name: string, c: number): void {
    this.specs.push({ name: `${name}.weight`, torchShape: [c], kind: 'vector' });
    this.specs.push({ name: `${name}.bias`, torchShape: [c], kind: 'vector' });
  }
  resnet(name: string, inC: number, outC: number): void {
    this.norm(`${name}.norm1`, inC);
    this.conv(`${name}.conv1`, outC, inC, 3);
    this.norm(`${name}.norm2`, outC);
    this.conv(`${name}.conv2`, outC, outC, 3);
    if (inC !== outC) this.conv(`${name}.nin_shortcut`, outC, inC, 1);
  }
  attn(name: string, c: number): void {
    this.norm(`${name}.norm`, c);
    for (const p of ['q', 'k', 'v', 'proj_out']) this.conv(`${name}.${p}`, c, c, 1);
  }
}

/** Every learnable parameter of the model described by `config`, in official order. */
export function parameterSpecs(config: MagvitConfig): ParamSpec[] {
  const L = new SpecList();
  const D = config.codebookDim;
  // Encoder (VQGANEncoder.__init__ registration order).
  const e = config.encoder;
  const eAttn = attentionLevels(e, 'encoder');
  L.conv('encoder.conv_in', e.ch, e.inCh, 3);
  let blockIn = e.ch;
  for (let i = 0; i < e.chMult.length; i++) {
    const blockOut = e.ch * e.chMult[i];
    for (let j = 0; j < e.numResBlocks[i]; j++) {
      L.resnet(`encoder.down.${i}.block.${j}`, blockIn, blockOut);
      blockIn = blockOut;
    }
    if (eAttn[i]) for (let j = 0; j < e.numResBlocks[i]; j++) L.attn(`encoder.down.${i}.attn.${j}`, blockIn);
    if (i !== e.chMult.length - 1) L.conv(`encoder.down.${i}.downsample.conv`, blockIn, blockIn, 3);
  }
  L.resnet('encoder.mid.block_1', blockIn, blockIn);
  L.attn('encoder.mid.attn_1', blockIn);
  L.resnet('encoder.mid.block_2', blockIn, blockIn);
  L.norm('encoder.norm_out', blockIn);
  L.conv('encoder.conv_out', D, blockIn, 3);
  L.conv('encoder.quant_conv', D, D, 1);
  // Decoder: conv_in, mid, then `up` in index order (the official code prepends levels built top-down).
  const d = config.decoder;
  const dAttn = attentionLevels(d, 'decoder');
  const n = d.chMult.length;
  const top = d.ch * d.chMult[n - 1];
  L.conv('decoder.conv_in', top, D, 3);
  L.resnet('decoder.mid.block_1', top, top);
  L.attn('decoder.mid.attn_1', top);
  L.resnet('decoder.mid.block_2', top, top);
  const levelIn = new Array<number>(n);
  const levelOut = new Array<number>(n);
  blockIn = top;
  for (let i = n - 1; i >= 0; i--) {
    levelIn[i] = blockIn;
    if (d.numResBlocks[i] > 0) blockIn = d.ch * d.chMult[i];
    levelOut[i] = blockIn;
  }
  for (let i = 0; i < n; i++) {
    let c = levelIn[i];
    for (let j = 0; j < d.numResBlocks[i]; j++) {
      L.resnet(`decoder.up.${i}.block.${j}`, c, d.ch * d.chMult[i]);
      c = d.ch * d.chMult[i];
    }
    if (dAttn[i]) for (let j = 0; j < d.numResBlocks[i]; j++) L.attn(`decoder.up.${i}.attn.${j}`, levelOut[i]);
    if (i !== 0) L.conv(`decoder.up.${i}.upsample.conv`, levelOut[i], levelOut[i], 3);
  }
  L.norm('decoder.norm_out', levelOut[0]);
  L.conv('decoder.conv_out', d.outCh, levelOut[0], 3);
  L.conv('decoder.post_quant_conv', D, D, 1);
  return L.specs;
}

/** Total number of learnable values. */
export function parameterCount(config: MagvitConfig): number {
  return parameterSpecs(config).reduce((a, s) => a + s.torchShape.reduce((x, y) => x * y, 1), 0);
}

/** tfjs shape of a parameter ([kh, kw, in, out] for convs). */
export function tfShape(spec: ParamSpec): number[] {
  if (spec.kind === 'vector') return [...spec.torchShape];
  const [o, i, kh, kw] = spec.torchShape;
  return [kh, kw, i, o];
}

/** PyTorch conv weight [out, in, kh, kw] → tfjs [kh, kw, in, out], on the host (no tensors involved). */
export function torchConvToTf(data: Float32Array, torchShape: readonly number[]): Float32Array {
  const [o, i, kh, kw] = torchShape;
  const out = new Float32Array(data.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) out[((y * kw + x) * i + b) * o + a] = data[((a * i + b) * kh + y) * kw + x];
  return out;
}

/** tfjs conv weight [kh, kw, in, out] → PyTorch [out, in, kh, kw] (`torchShape` is the PyTorch shape). */
export function tfConvToTorch(data: Float32Array, torchShape: readonly number[]): Float32Array {
  const [o, i, kh, kw] = torchShape;
  const out = new Float32Array(data.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) out[((a * i + b) * kh + y) * kw + x] = data[((y * kw + x) * i + b) * o + a];
  return out;
}

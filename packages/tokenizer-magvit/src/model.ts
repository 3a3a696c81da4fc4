/**
 * MAGVIT-v2 autoencoder with lookup-free quantisation (official `models/modeling_magvitv2.py`), written with the
 * `@showo/runtime` primitives. Tensors are NHWC inside; parameters keep their official names.
 *
 *   encoder: conv_in → levels [ResnetBlock × n (+ AttnBlock each), Downsample] → mid (block, attn, block)
 *            → GroupNorm → swish → conv_out → quant_conv                         [B, R, R, 3] → [B, h, w, D]
 *   LFQ:     bit_j = z_j > 0, code = Σ bit_j 2^(D−1−j)                           [B, h, w, D] → [B, h·w]
 *   decoder: post_quant_conv → conv_in → mid → levels top-down [ResnetBlock × n (+ attn), Upsample]
 *            → GroupNorm → swish → conv_out                                     [B, h, w, D] → [B, R, R, outCh]
 */
import * as tf from '@tensorflow/tfjs';
import { conv2d, groupNorm, linear, multiHeadAttention, SeededRandom, silu, upsampleNearest2x } from '@showo/runtime';
import { attentionLevels, cloneMagvitConfig, downsampleFactor, validateMagvitConfig } from './config.js';
import { CodeRangeError, ImageShapeError, MagvitWeightsError } from './errors.js';
import { despecklePalette } from './despeckle.js';
import { defaultInitializer } from './init.js';
import { paletteTable } from './palette.js';
import { codesToLatentData, latentToCodes, readCodes, type CodesInput } from './lfq.js';
import { parameterSpecs, tfShape, type ParamSpec } from './params.js';
import type { ForwardTap, MagvitConfig } from './types.js';

type Params = (name: string) => tf.Tensor;

let instanceCounter = 0;

// ---------------------------------------------------------------------------------------------------------------
// Building blocks (plain functions of tensors and a parameter getter)

function conv3x3(x: tf.Tensor4D, p: Params, name: string, stride = 1, padding: Parameters<typeof conv2d>[4] = 'same'): tf.Tensor4D {
  return conv2d(x, p(`${name}.weight`) as tf.Tensor4D, p(`${name}.bias`) as tf.Tensor1D, stride, padding);
}

/** A 1×1 conv is a per-pixel linear map: one 2-D matMul over [B·H·W, C] (the fast path on wasm). */
function conv1x1(x: tf.Tensor, p: Params, name: string): tf.Tensor {
  return tf.tidy(() => {
    const w = p(`${name}.weight`) as tf.Tensor4D;
    return linear(x, w.reshape([w.shape[2], w.shape[3]]) as tf.Tensor2D, p(`${name}.bias`) as tf.Tensor1D);
  });
}

interface NormCfg {
  groups: number;
  eps: number;
}

function norm(x: tf.Tensor4D, p: Params, name: string, n: NormCfg): tf.Tensor4D {
  return groupNorm(x, n.groups, p(`${name}.weight`) as tf.Tensor1D, p(`${name}.bias`) as tf.Tensor1D, n.eps);
}

/** norm1 → swish → conv1 → norm2 → swish → conv2, plus the input (1×1 nin_shortcut when widths differ). */
function resnetBlock(x: tf.Tensor4D, p: Params, name: string, n: NormCfg, hasShortcut: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    let h = conv3x3(silu(norm(x, p, `${name}.norm1`, n)) as tf.Tensor4D, p, `${name}.conv1`);
    h = conv3x3(silu(norm(h, p, `${name}.norm2`, n)) as tf.Tensor4D, p, `${name}.conv2`);
    const skip = hasShortcut ? conv1x1(x, p, `${name}.nin_shortcut`) : x;
    return tf.add(skip, h) as tf.Tensor4D;
  });
}

/** Single-head self-attention over the h·w positions (scale 1/√C), then proj_out, plus the input. */
function attnBlock(x: tf.Tensor4D, p: Params, name: string, n: NormCfg): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, hh, ww, c] = x.shape;
    const h = norm(x, p, `${name}.norm`, n).reshape([b, hh * ww, c]);
    const q = conv1x1(h, p, `${name}.q`) as tf.Tensor3D;
    const k = conv1x1(h, p, `${name}.k`) as tf.Tensor3D;
    const v = conv1x1(h, p, `${name}.v`) as tf.Tensor3D;
    const noMask = tf.zeros([b, hh * ww, hh * ww]) as tf.Tensor3D;
    const o = conv1x1(multiHeadAttention(q, k, v, noMask, 1), p, `${name}.proj_out`);
    return tf.add(x, o.reshape([b, hh, ww, c])) as tf.Tensor4D;
  });
}

/** Official Downsample: zero-pad right and bottom by one, then a 3×3 conv with stride 2. */
function downsample(x: tf.Tensor4D, p: Params, name: string): tf.Tensor4D {
  return conv3x3(x, p, `${name}.conv`, 2, [
    [0, 1],
    [0, 1],
  ]);
}

/** Official Upsample: nearest-neighbour ×2, then a 3×3 conv. */
function upsample(x: tf.Tensor4D, p: Params, name: string): tf.Tensor4D {
  return tf.tidy(() => conv3x3(upsampleNearest2x(x), p, `${name}.conv`));
}

/**
 * Runs a chain of steps on a running value, disposing each superseded intermediate when `release` is set
 * (inference: keeps peak memory at a few activations; under a gradient tape nothing may be freed early).
 */
class Chain {
  constructor(
    public value: tf.Tensor4D,
    private readonly release: boolean,
    private readonly tap: ForwardTap | undefined,
    private owned = false,
  ) {}
  step(module: string, f: (x: tf.Tensor4D) => tf.Tensor4D): void {
    const next = f(this.value);
    if (this.release && this.owned) this.value.dispose();
    this.value = next;
    this.owned = true;
    this.tap?.(module, next);
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** Options of forward passes. */
export interface ForwardOptions {
  /**
   * Receives every named module output (official names, NHWC). The tensors are freed when the call returns: read
   * them inside the callback (e.g. `dataSync()`), or `tf.keep` them.
   */
  tap?: ForwardTap;
}

/** Missing and mis-shaped parameters among the tensors `get` finds (tfjs layouts). */
function fitProblems(specs: readonly ParamSpec[], get: (name: string) => tf.Tensor | undefined): string[] {
  const problems: string[] = [];
  for (const s of specs) {
    const t = get(s.name);
    const want = tfShape(s);
    if (!t) problems.push(`missing ${s.name}`);
    else if (t.shape.join(',') !== want.join(',')) problems.push(`${s.name} has shape [${t.shape.join(', ')}], expected [${want.join(', ')}]`);
  }
  return problems;
}

function misfit(source: string, problems: readonly string[]): MagvitWeightsError {
  return new MagvitWeightsError(source, `weights do not fit the config (${problems.length} problems): ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? '; …' : ''}`);
}

/**
 * The tokenizer: parameters (tf.Variables, official names, tfjs layouts) plus the forward passes. Create with
 * {@link MagvitTokenizer.create} (random init) or `loadMagvit` (weights file); free with {@link dispose}.
 */
/** Options of {@link MagvitTokenizer.borrow}. */
export interface BorrowOptions {
  /**
   * 'decoder': only the `decoder.` parameters are needed (and checked); the view decodes codes and latents, and
   * anything that needs the encoder throws a {@link MagvitWeightsError}. 'encoder' likewise holds only the
   * `encoder.` parameters (the view encodes). Default 'all'.
   */
  part?: 'all' | 'decoder' | 'encoder';
}

export class MagvitTokenizer {
  readonly config: MagvitConfig;
  private readonly vars: Map<string, tf.Variable>;
  private readonly specs: ParamSpec[];
  private readonly shortcut = new Set<string>();
  private readonly normCfg: NormCfg;
  private disposed = false;
  /** True for {@link MagvitTokenizer.borrow} views (the tensors belong to someone else). */
  private borrowed = false;

  private constructor(config: MagvitConfig, vars: Map<string, tf.Variable>, specs: ParamSpec[]) {
    this.config = config;
    this.vars = vars;
    this.specs = specs;
    for (const s of specs) if (s.name.endsWith('.nin_shortcut.weight')) this.shortcut.add(s.name.slice(0, -'.nin_shortcut.weight'.length));
    this.normCfg = { groups: config.normGroups, eps: config.normEps };
  }

  /**
   * A tokenizer with freshly initialised weights: PyTorch's defaults (convs and their biases uniform in
   * ±1/√fan_in, GroupNorm scale 1 and shift 0), drawn from a seeded generator so runs repeat.
   */
  static create(config: MagvitConfig, options: { seed?: number } = {}): MagvitTokenizer {
    validateMagvitConfig(config);
    const specs = parameterSpecs(config);
    const init = defaultInitializer(specs, new SeededRandom(options.seed ?? 0));
    const tensors = new Map<string, tf.Tensor>();
    for (const s of specs) tensors.set(s.name, tf.tensor(init(s), tfShape(s)));
    return MagvitTokenizer.fromTensors(config, tensors);
  }

  /**
   * Wraps tensors already in tfjs layout (conv weights [kh, kw, in, out]) keyed by official names. Takes
   * ownership: the tensors are disposed once copied into variables. Every parameter of the config must be present
   * with the right shape; extra names are refused.
   */
  static fromTensors(config: MagvitConfig, tensors: Map<string, tf.Tensor>, source = '<tensors>'): MagvitTokenizer {
    validateMagvitConfig(config);
    const specs = parameterSpecs(config);
    const problems = fitProblems(specs, (name) => tensors.get(name));
    const known = new Set(specs.map((s) => s.name));
    for (const name of tensors.keys()) if (!known.has(name)) problems.push(`unexpected ${name}`);
    if (problems.length) {
      for (const t of tensors.values()) t.dispose();
      throw misfit(source, problems);
    }
    const id = instanceCounter++;
    const vars = new Map<string, tf.Variable>();
    for (const s of specs) {
      const t = tensors.get(s.name)!;
      // Variable names are global in tfjs: a per-instance prefix lets several tokenizers live side by side.
      vars.set(s.name, tf.variable(t, true, `magvit${id}/${s.name}`));
      t.dispose();
    }
    return new MagvitTokenizer(cloneMagvitConfig(config), vars, specs);
  }

  /**
   * A tokenizer over tensors someone else owns (tfjs layouts, official names — what {@link namedVariables}
   * holds), e.g. the mirrored weights of a `DualEngine` worker or the tensors a gradient tape hands to a loss.
   * Nothing is copied; {@link dispose} frees nothing. Names and shapes are checked as in {@link fromTensors}.
   */
  static borrow(
    config: MagvitConfig,
    weights: Readonly<Record<string, tf.Tensor>> | ReadonlyMap<string, tf.Tensor>,
    options: BorrowOptions = {},
  ): MagvitTokenizer {
    validateMagvitConfig(config);
    const part = options.part ?? 'all';
    const specs = parameterSpecs(config).filter((s) => part === 'all' || s.name.startsWith(`${part}.`));
    const get = (name: string): tf.Tensor | undefined => (weights instanceof Map ? weights.get(name) : (weights as Record<string, tf.Tensor>)[name]);
    const problems = fitProblems(specs, get);
    if (problems.length) throw misfit('<borrowed tensors>', problems);
    // Forward passes only read parameters as tensors, so a plain tensor serves where a variable is declared.
    const vars = new Map<string, tf.Variable>(specs.map((s) => [s.name, get(s.name) as tf.Variable]));
    const model = new MagvitTokenizer(cloneMagvitConfig(config), vars, specs);
    model.borrowed = true;
    return model;
  }

  /** 2^D. */
  get codebookSize(): number {
    return 2 ** this.config.codebookDim;
  }

  /** Pixels per code along each side. */
  get downsampleFactor(): number {
    return downsampleFactor(this.config);
  }

  /** Code grid [h, w] of an image of the given size. */
  latentShape(height: number, width: number = height): [number, number] {
    const f = this.downsampleFactor;
    return [height / f, width / f];
  }

  /** Parameters keyed by official name (tfjs layouts). */
  namedVariables(): ReadonlyMap<string, tf.Variable> {
    return this.vars;
  }

  /** Every learnable variable, in official order — what an optimiser updates. */
  trainableVariables(): tf.Variable[] {
    this.alive();
    return this.specs.map((s) => this.vars.get(s.name)!);
  }

  /** Number of learnable values. */
  parameterCount(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  dispose(): void {
    if (this.disposed) return;
    if (!this.borrowed) for (const v of this.vars.values()) v.dispose();
    this.disposed = true;
  }

  private alive(): void {
    if (this.disposed) throw new MagvitWeightsError('<model>', 'tokenizer was disposed');
  }

  private readonly p: Params = (name) => {
    const v = this.vars.get(name);
    if (!v) throw new MagvitWeightsError('<model>', `no parameter ${name}`);
    return v;
  };

  /** Throws {@link ImageShapeError} unless images are [B, H, W, inCh] with H and W multiples of the factor. */
  checkImages(images: tf.Tensor): asserts images is tf.Tensor4D {
    const c = this.config.encoder.inCh;
    const f = this.downsampleFactor;
    if (images.rank !== 4) throw new ImageShapeError(`images must be [batch, height, width, ${c}], got shape [${images.shape.join(', ')}]`);
    const [b, h, w, ch] = images.shape;
    if (ch !== c) throw new ImageShapeError(`images have ${ch} channels, the tokenizer reads ${c} (RGB)`);
    if (b < 1 || h < f || w < f || h % f !== 0 || w % f !== 0) {
      throw new ImageShapeError(`image size ${h}×${w} must be a positive multiple of ${f} (the tokenizer downsamples ${f}× per side; trained at ${this.config.encoder.resolution}×${this.config.encoder.resolution})`);
    }
  }

  /**
   * Images that one inference pass may hold at once. The largest activations live at full resolution; a ResNet
   * block keeps about eight of them alive at its peak. On wasm (32-bit heap; past ~3.5 GiB allocations silently
   * corrupt data) batches are split so that the estimate stays under {@link MagvitTokenizer.wasmBudgetBytes};
   * other backends run the batch whole.
   */
  imagesPerPass(height: number, width: number): number {
    if (tf.getBackend() !== 'wasm') return Infinity;
    const e = this.config.encoder;
    const d = this.config.decoder;
    const widest = Math.max(e.ch * e.chMult[0], d.ch * d.chMult[0], d.chMult.length > 1 ? d.ch * d.chMult[1] : 0, 3);
    const perImage = 8 * height * width * widest * 4;
    const free = MagvitTokenizer.wasmBudgetBytes - tf.memory().numBytes;
    return Math.max(1, Math.floor(free / perImage));
  }

  /** Live-tensor budget of one inference pass on wasm (default 3 GiB). */
  static wasmBudgetBytes = 3 * 1024 ** 3;

  /** Runs `f` on consecutive batch chunks of at most `n` and concatenates the results along axis 0. */
  private chunked<T extends tf.Tensor>(batch: number, n: number, f: (start: number, size: number) => T): T {
    if (batch <= n) return f(0, batch);
    const parts: T[] = [];
    try {
      for (let s = 0; s < batch; s += n) parts.push(f(s, Math.min(n, batch - s)));
      return tf.concat(parts, 0) as T;
    } finally {
      tf.dispose(parts);
    }
  }

  private slice4(x: tf.Tensor4D, start: number, size: number, batch: number): tf.Tensor4D {
    return start === 0 && size === batch ? x : (tf.slice(x, [start, 0, 0, 0], [size, -1, -1, -1]) as tf.Tensor4D);
  }

  /**
   * Encoder output before quantisation (official `MAGVITv2.encoder(x)`, quant_conv included): images
   * [B, H, W, 3] in [−1, 1] → latent [B, H/f, W/f, D].
   */
  encoderOutput(images: tf.Tensor4D, options: ForwardOptions = {}): tf.Tensor4D {
    this.alive();
    this.checkImages(images);
    const [b, h, w] = images.shape;
    return this.chunked(b, this.imagesPerPass(h, w), (s, n) => tf.tidy(() => this.runEncoder(this.slice4(images, s, n, b), true, options.tap)));
  }

  /** Code indices int32 [B, h·w], row-major over (h, w) (official `MAGVITv2.get_code`). */
  encodeToCodes(images: tf.Tensor4D): tf.Tensor2D {
    this.alive();
    this.checkImages(images);
    const [b, h, w] = images.shape;
    return this.chunked(b, this.imagesPerPass(h, w), (s, n) => tf.tidy(() => latentToCodes(this.runEncoder(this.slice4(images, s, n, b), true))));
  }

  /**
   * ±1 latent [B, h, w, D] of codes (official `quantize.get_codebook_entry`). Codes [B, N] fill an h×w grid;
   * without `shape` the grid is square (h = w = √N, as upstream). Codes outside [0, 2^D) are a
   * {@link CodeRangeError}.
   */
  codesToLatent(codes: CodesInput, shape?: readonly [number, number]): tf.Tensor4D {
    this.alive();
    const { data, batch, length } = readCodes(codes, this.config.codebookDim);
    const [h, w] = gridShape(length, shape);
    return tf.tensor4d(codesToLatentData(data, this.config.codebookDim), [batch, h, w, this.config.codebookDim]);
  }

  /** Raw decoder output [B, H, W, outCh] of a latent [B, h, w, D] (RGB values or palette logits). */
  decodeLatent(latent: tf.Tensor4D, options: ForwardOptions = {}): tf.Tensor4D {
    this.alive();
    if (latent.rank !== 4 || latent.shape[3] !== this.config.codebookDim) {
      throw new ImageShapeError(`latent must be [batch, h, w, ${this.config.codebookDim}], got [${latent.shape.join(', ')}]`);
    }
    const [b, h, w] = latent.shape;
    const f = this.downsampleFactor;
    return this.chunked(b, this.imagesPerPass(h * f, w * f), (s, n) => tf.tidy(() => this.runDecoder(this.slice4(latent, s, n, b), true, options.tap)));
  }

  /**
   * Images [B, H, W, 3] for codes (official `MAGVITv2.decode_code`). RGB mode: the raw decoder output, not clamped
   * (clamp when converting to pixels). Palette mode: each pixel is its most likely palette colour, in [−1, 1].
   */
  decodeCodes(codes: CodesInput, shape?: readonly [number, number]): tf.Tensor4D {
    const { images, minRegion } = this.decodeBeforeDespeckle(codes, shape);
    if (minRegion <= 0) return images;
    let host: Float32Array;
    try {
      host = images.dataSync() as Float32Array;
    } catch (e) {
      images.dispose();
      throw e;
    }
    return this.despeckle(images, host, minRegion);
  }

  /**
   * {@link decodeCodes} reading the device only asynchronously (palette clean-up is a host step), for backends
   * without synchronous reads (WebGPU in Node; in browsers they are slow). Same values.
   */
  async decodeCodesAsync(codes: CodesInput, shape?: readonly [number, number]): Promise<tf.Tensor4D> {
    // Codes in a tensor are read here, asynchronously (a [B, N] tensor; readCodes names any other shape).
    const hostCodes = codes instanceof tf.Tensor && codes.rank === 2 ? { data: Int32Array.from(await codes.data()), batch: codes.shape[0] } : codes;
    const { images, minRegion } = this.decodeBeforeDespeckle(hostCodes, shape);
    if (minRegion <= 0) return images;
    let host: Float32Array;
    try {
      host = (await images.data()) as Float32Array;
    } catch (e) {
      images.dispose();
      throw e;
    }
    return this.despeckle(images, host, minRegion);
  }

  private decodeBeforeDespeckle(codes: CodesInput, shape?: readonly [number, number]): { images: tf.Tensor4D; minRegion: number } {
    this.alive();
    const { data, batch, length } = readCodes(codes, this.config.codebookDim);
    const [h, w] = gridShape(length, shape);
    const D = this.config.codebookDim;
    const f = this.downsampleFactor;
    // Latents are built per chunk on the host, so a large batch never materialises at once.
    const images = this.chunked(batch, this.imagesPerPass(h * f, w * f), (s, n) =>
      tf.tidy(() => {
        const latent = tf.tensor4d(codesToLatentData(data.subarray(s * length, (s + n) * length), D), [n, h, w, D]);
        return this.outputToImages(this.runDecoder(latent, true));
      }),
    );
    const minRegion = this.config.outputMode === 'palette' ? (this.config.paletteMinRegion ?? 0) : 0;
    return { images, minRegion };
  }

  /** Applies `despecklePalette` to palette images in [−1, 1] given their values `x` on the host (disposes `images`). */
  private despeckle(images: tf.Tensor4D, x: Float32Array, minRegion: number): tf.Tensor4D {
    const [b, h, w] = images.shape;
    images.dispose();
    const pal = this.config.palette!;
    const n = h * w * 3;
    const out = new Float32Array(b * n);
    const bytes = new Uint8Array(n);
    for (let i = 0; i < b; i++) {
      // Palette images hold exact palette colours: (v + 1)·127.5 rounds back to the byte.
      for (let j = 0; j < n; j++) bytes[j] = Math.round((x[i * n + j]! + 1) * 127.5);
      const clean = despecklePalette(bytes, w, h, pal, minRegion);
      for (let j = 0; j < n; j++) out[i * n + j] = clean[j]! / 127.5 - 1;
    }
    return tf.tensor4d(out, [b, h, w, 3]);
  }

  /** Decoder output → images: identity for RGB, argmax palette colour for palette heads. */
  outputToImages(output: tf.Tensor4D): tf.Tensor4D {
    if (this.config.outputMode === 'rgb') return output;
    return tf.tidy(() => {
      const pal = this.config.palette!;
      return tf.gather(paletteTable(pal), tf.argMax(output, -1)) as unknown as tf.Tensor4D;
    });
  }

  /** Encoder forward for training code: no validation beyond shapes, nothing freed early (gradient tape safe). */
  forwardEncoder(images: tf.Tensor4D, options: ForwardOptions = {}): tf.Tensor4D {
    this.alive();
    this.checkImages(images);
    return tf.tidy(() => this.runEncoder(images, false, options.tap));
  }

  /** Decoder forward for training code (gradient tape safe). */
  forwardDecoder(latent: tf.Tensor4D, options: ForwardOptions = {}): tf.Tensor4D {
    this.alive();
    return tf.tidy(() => this.runDecoder(latent, false, options.tap));
  }

  private runEncoder(x: tf.Tensor4D, release: boolean, tap?: ForwardTap): tf.Tensor4D {
    const e = this.config.encoder;
    const p = this.p;
    const n = this.normCfg;
    const attn = attentionLevels(e, 'encoder');
    const c = new Chain(x, release, tap);
    c.step('encoder.conv_in', (h) => conv3x3(h, p, 'encoder.conv_in'));
    for (let i = 0; i < e.chMult.length; i++) {
      for (let j = 0; j < e.numResBlocks[i]; j++) {
        const name = `encoder.down.${i}.block.${j}`;
        c.step(name, (h) => resnetBlock(h, p, name, n, this.shortcut.has(name)));
        if (attn[i]) c.step(`encoder.down.${i}.attn.${j}`, (h) => attnBlock(h, p, `encoder.down.${i}.attn.${j}`, n));
      }
      if (i !== e.chMult.length - 1) c.step(`encoder.down.${i}.downsample`, (h) => downsample(h, p, `encoder.down.${i}.downsample`));
    }
    this.mid(c, 'encoder');
    c.step('encoder.conv_out', (h) => tf.tidy(() => conv3x3(silu(norm(h, p, 'encoder.norm_out', n)) as tf.Tensor4D, p, 'encoder.conv_out')));
    c.step('encoder.quant_conv', (h) => conv1x1(h, p, 'encoder.quant_conv') as tf.Tensor4D);
    return c.value;
  }

  private mid(c: Chain, part: 'encoder' | 'decoder'): void {
    const p = this.p;
    const n = this.normCfg;
    c.step(`${part}.mid.block_1`, (h) => resnetBlock(h, p, `${part}.mid.block_1`, n, false));
    c.step(`${part}.mid.attn_1`, (h) => attnBlock(h, p, `${part}.mid.attn_1`, n));
    c.step(`${part}.mid.block_2`, (h) => resnetBlock(h, p, `${part}.mid.block_2`, n, false));
  }

  private runDecoder(z: tf.Tensor4D, release: boolean, tap?: ForwardTap): tf.Tensor4D {
    const d = this.config.decoder;
    const p = this.p;
    const n = this.normCfg;
    const attn = attentionLevels(d, 'decoder');
    const c = new Chain(z, release, tap);
    c.step('decoder.post_quant_conv', (h) => conv1x1(h, p, 'decoder.post_quant_conv') as tf.Tensor4D);
    c.step('decoder.conv_in', (h) => conv3x3(h, p, 'decoder.conv_in'));
    this.mid(c, 'decoder');
    for (let i = d.chMult.length - 1; i >= 0; i--) {
      for (let j = 0; j < d.numResBlocks[i]; j++) {
        const name = `decoder.up.${i}.block.${j}`;
        c.step(name, (h) => resnetBlock(h, p, name, n, this.shortcut.has(name)));
        if (attn[i]) c.step(`decoder.up.${i}.attn.${j}`, (h) => attnBlock(h, p, `decoder.up.${i}.attn.${j}`, n));
      }
      if (i !== 0) c.step(`decoder.up.${i}.upsample`, (h) => upsample(h, p, `decoder.up.${i}.upsample`));
    }
    c.step('decoder.conv_out', (h) => tf.tidy(() => conv3x3(silu(norm(h, p, 'decoder.norm_out', n)) as tf.Tensor4D, p, 'decoder.conv_out')));
    return c.value;
  }
}

/** The h×w grid for N codes: `shape` if given (checked), else a square. */
export function gridShape(n: number, shape?: readonly [number, number]): [number, number] {
  if (shape) {
    if (shape[0] * shape[1] !== n) throw new CodeRangeError(`code grid ${shape[0]}×${shape[1]} needs ${shape[0] * shape[1]} codes per image, got ${n}`);
    return [shape[0], shape[1]];
  }
  const s = Math.round(Math.sqrt(n));
  if (s * s !== n) throw new CodeRangeError(`${n} codes per image do not form a square grid; pass the grid shape`);
  return [s, s];
}

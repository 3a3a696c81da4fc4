/**
 * The Show-o network: token embedding over the unified vocabulary → N parallel decoder layers (block.ts) →
 * final LayerNorm → lm_head. It maps ids and an attention allow-mask to logits and knows nothing of prompts,
 * sampling or training; those live in @showo/prompting, @showo/sampler and @showo/trainer.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, SeededRandom, allowMaskToBias, embedding, layerNorm, linear } from '@showo/runtime';
import { decoderLayer, rotaryTables, type BlockDims, type IntermediateCallback, type LayerKV } from './block.js';
import { KVCache } from './cache.js';
import { readCheckpoint, writeCheckpoint, type LoadOptions, type SaveOptions } from './checkpoint.js';
import { headDim, imageGridSide, parameterCount, rotaryDim, validateShowoConfig, type ShowoConfig } from './config.js';
import { assertModelFits, type MemoryBudgetOptions } from './memory.js';
import { ShowoShard, type ParallelShare } from './parallel.js';
import { IMAGE_COL_EMBED, IMAGE_ROW_EMBED, PREFIX, memoryShape, paramSpecs, structure, transposeHost, type ShowoWeights } from './weights.js';

/**
 * An attention allow-mask in host memory, row-major [batch, queries, keys], 1 = may attend. Structurally the
 * `AllowMask` of `@showo/omni-attention`, which can be passed directly.
 */
export interface AllowMaskLike {
  batch: number;
  queries: number;
  keys: number;
  data: Uint8Array;
}

/** An allow-mask: a tensor [B, Lq, Lk] (bool or 0/1 numbers) or an {@link AllowMaskLike}. */
export type AllowInput = tf.Tensor | AllowMaskLike;

/**
 * Which positions get logits. `'all'` (default): every input position; `'last'`: the last one only (decoding);
 * `{ start, length }`: a contiguous range of the input positions (e.g. the N image tokens of a MaskGIT block);
 * `{ rows }`: any positions, as flat indices `b·T + t` into the [B, T] input, gathered into logits [1, R, V] in the
 * order given (training: only the positions that carry a label). The lm_head (the largest matrix of the model)
 * then runs only on those positions. Gathering rows is differentiable on every backend.
 */
export type LogitsSelection = 'all' | 'last' | { start: number; length: number } | { rows: ArrayLike<number> };

/** Options of {@link ShowoModel.forward}. */
export interface ForwardOptions {
  /** Positions to compute logits for (default `'all'`). */
  logits?: LogitsSelection;
  /**
   * Debugging: called with the official intermediate names (`embed`, `layer{i}.input_layernorm`, `.q_proj`,
   * `.q_layernorm`/`.k_layernorm` [B, heads, T, hd] after QK-norm and before RoPE, `.self_attn`, `.mlp`, `.out`,
   * `final_layernorm`). The tensor is disposed after the call returns: read it (or `tf.keep(t.clone())`) inside.
   */
  onIntermediate?: IntermediateCallback;
}

/** Options of {@link ShowoModel.forwardWithCache}. */
export interface CachedForwardOptions extends ForwardOptions {
  /**
   * `true`: the new positions are appended to the cache (KV-cache decoding). `false`: the cache is only read
   * (MaskGIT steps against a prefix cache), so it can be reused by the next call.
   */
  append: boolean;
}

/** Something that draws standard normals (e.g. `SeededRandom`). */
export interface NormalSource {
  normal(): number;
}

/** HF's `initializer_range` for Phi: linear and embedding weights are drawn from N(0, 0.02²). */
export const INIT_STD = 0.02;

let nextModelId = 1;

/** `tf.tidy` for a function returning an object of tensors (tidy keeps every tensor inside the result). */
function tidyObject<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}

/**
 * The Show-o transformer (Phi-1.5 with QK-norm), parameters held as `tf.Variable`s.
 *
 * ```ts
 * const model = await ShowoModel.load('checkpoints/show-o');       // or ShowoModel.random(config, seed)
 * const logits = model.forward(ids, allow);                        // [B, L, V]
 * // MaskGIT: prefix once, image block per step
 * const cache = model.prefill(prefixIds, prefixAllow);
 * const imageLogits = model.forwardWithCache(blockIds, blockRows, cache, { append: false, logits: { start: 1, length: N } });
 * cache.dispose();
 * ```
 *
 * All methods take int32 ids [B, L]; out-of-range ids are not checked (that would need a device read).
 * Returned tensors belong to the caller. Every method is synchronous and leaks no tensors.
 */
export class ShowoModel {
  readonly config: ShowoConfig;
  /** Unique id (caches remember which model filled them). */
  readonly id = nextModelId++;
  private vars: Map<string, tf.Variable>;
  private w: ShowoWeights;
  private readonly dims: BlockDims;
  private isDisposed = false;
  /** True for {@link ShowoModel.borrow} views: the tensors belong to someone else. */
  private readonly borrowed: boolean;

  private constructor(config: ShowoConfig, vars: Map<string, tf.Variable>, borrowed = false) {
    this.borrowed = borrowed;
    this.config = { ...config };
    this.vars = vars;
    this.w = structure(this.config, vars);
    this.dims = { numHeads: config.num_attention_heads, headDim: headDim(config), rotaryDim: rotaryDim(config), eps: config.layer_norm_eps };
  }

  // ───────────────────────────── construction, persistence ─────────────────────────────

  /**
   * A freshly initialised model, as HF initialises Phi: linear and embedding weights N(0, 0.02²), biases 0,
   * LayerNorm weight 1 and bias 0. Deterministic for a given seed (draws in official tensor order and layout).
   */
  static random(config: ShowoConfig, seed: number | SeededRandom = 0, options: MemoryBudgetOptions = {}): ShowoModel {
    validateShowoConfig(config);
    assertModelFits(config, options);
    const rng = typeof seed === 'number' ? new SeededRandom(seed) : seed;
    const vars = new Map<string, tf.Variable>();
    for (const spec of paramSpecs(config)) {
      const n = spec.shape.reduce((a, b) => a * b, 1);
      let data: Float32Array = new Float32Array(n);
      if (spec.kind === 'embedding' || spec.kind === 'linear') for (let i = 0; i < n; i++) data[i] = INIT_STD * rng.normal();
      else if (spec.kind === 'norm-weight') data.fill(1);
      if (spec.kind === 'linear') data = transposeHost(data, spec.shape[0], spec.shape[1]);
      const t = tf.tensor(data, memoryShape(spec), 'float32');
      vars.set(spec.name, tf.variable(t, true));
      t.dispose();
    }
    return new ShowoModel(config, vars);
  }

  /**
   * Loads `config.json` and the safetensors weights (official names) of a checkpoint folder. Throws
   * `ShowoConfigError`, `CheckpointMismatchError` (listing missing, unexpected and mis-shaped tensors) or
   * `ModelTooLargeError` (before reading any weight) — see {@link LoadOptions}.
   */
  static async load(dir: string, options: LoadOptions = {}): Promise<ShowoModel> {
    const { config, vars } = readCheckpoint(dir, options);
    return new ShowoModel(config, vars);
  }

  /** Writes `config.json` and `model.safetensors` (official names, [out, in] linear weights) atomically. */
  async save(dir: string, options: SaveOptions = {}): Promise<void> {
    this.assertLive();
    writeCheckpoint(dir, this.config, this.vars, options);
  }

  /**
   * A model over tensors someone else owns (weights by official name, in the memory layout of
   * {@link namedVariables}: linear weights [in, out]), e.g. the mirrored weights in a `DualEngine` worker, or the
   * tensors `tf.valueAndGrads` hands to a loss function. Nothing is copied; {@link dispose} frees nothing. Every
   * name and shape is checked (`CheckpointMismatchError`-style message as an `InvalidArgumentError`).
   */
  static borrow(config: ShowoConfig, weights: Readonly<Record<string, tf.Tensor>> | ReadonlyMap<string, tf.Tensor>): ShowoModel {
    validateShowoConfig(config);
    const get = (name: string): tf.Tensor | undefined => (weights instanceof Map ? weights.get(name) : (weights as Record<string, tf.Tensor>)[name]);
    const vars = new Map<string, tf.Variable>();
    const problems: string[] = [];
    for (const spec of paramSpecs(config)) {
      const t = get(spec.name);
      const shape = memoryShape(spec);
      if (!t) problems.push(`missing ${spec.name}`);
      else if (t.shape.join(',') !== shape.join(',')) problems.push(`${spec.name} is [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
      // Forward passes only read parameters as tensors, so a plain tensor serves where a variable is declared.
      else vars.set(spec.name, t as tf.Variable);
    }
    if (problems.length) throw new InvalidArgumentError(`ShowoModel.borrow: the weights do not fit the config (${problems.slice(0, 6).join('; ')}${problems.length > 6 ? '; …' : ''})`);
    return new ShowoModel(config, vars, true);
  }

  /** Frees every parameter (a {@link borrow} view frees nothing). The model cannot be used afterwards. */
  dispose(): void {
    if (this.isDisposed) return;
    if (!this.borrowed) for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
    this.isDisposed = true;
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  // ───────────────────────────── parameters ─────────────────────────────

  /** Every parameter, in the official order (what an optimizer updates). Re-read after {@link resizeVocab}. */
  trainableVariables(): tf.Variable[] {
    this.assertLive();
    return [...this.vars.values()];
  }

  /**
   * Parameters by official name. Linear weights are held **[in, out]** (transposed from the checkpoint's
   * [out, in]); everything else as in the checkpoint.
   */
  namedVariables(): ReadonlyMap<string, tf.Variable> {
    this.assertLive();
    return this.vars;
  }

  /** Number of parameters. */
  get parameterCount(): number {
    return parameterCount(this.config);
  }

  /**
   * Grows the vocabulary to `newSize` rows (new task tokens), keeping every existing row of the embedding and
   * the lm_head. New rows are drawn from N(0, 0.02²) (as HF's `resize_token_embeddings` initialises them), new
   * lm_head biases are 0. The variables of the embedding and lm_head are replaced: callers holding
   * `trainableVariables()` (an optimizer) must fetch them again.
   */
  resizeVocab(newSize: number, rng: NormalSource): void {
    if (this.borrowed) throw new InvalidArgumentError('resizeVocab: this model borrows its weights (ShowoModel.borrow); resize the owner instead');
    this.assertLive();
    const old = this.config.vocab_size;
    if (!Number.isInteger(newSize) || newSize < old) throw new InvalidArgumentError(`resizeVocab: new size ${newSize} must be an integer ≥ the current ${old}`);
    if (newSize === old) return;
    const H = this.config.hidden_size;
    const extra = newSize - old;
    const rows = new Float32Array(extra * H);
    for (let i = 0; i < rows.length; i++) rows[i] = INIT_STD * rng.normal();
    const head = new Float32Array(extra * H); // official [extra, H] rows of lm_head.weight
    for (let i = 0; i < head.length; i++) head[i] = INIT_STD * rng.normal();
    const replace = (name: string, make: (v: tf.Variable) => tf.Tensor) => {
      const v = this.vars.get(name)!;
      const t = tf.tidy(() => make(v));
      this.vars.set(name, tf.variable(t, true));
      t.dispose();
      v.dispose();
    };
    replace(`${PREFIX}model.embed_tokens.weight`, (v) => tf.concat([v, tf.tensor2d(rows, [extra, H])], 0)); // [V', H]
    replace(`${PREFIX}lm_head.weight`, (v) => tf.concat([v, tf.tensor2d(transposeHost(head, extra, H), [H, extra])], 1)); // [H, V']
    replace(`${PREFIX}lm_head.bias`, (v) => tf.concat([v, tf.zeros([extra])], 0));
    // Keep the official order of the map (embedding first, lm_head last).
    this.vars = new Map(paramSpecs({ ...this.config, vocab_size: newSize }).map((s) => [s.name, this.vars.get(s.name)!]));
    (this.config as { vocab_size: number }).vocab_size = newSize;
    this.w = structure(this.config, this.vars);
  }

  /**
   * Deepens the model without changing what it computes: a new decoder layer is inserted after each old layer index
   * in `after` (e.g. `[1, 3]` turns 4 layers into 6, new ones at 2 and 5). A new layer is initialised as
   * {@link ShowoModel.random} would, except its output projections (attention `dense` and MLP `fc2`, weights and
   * biases), which start at zero: a Phi block adds attention and MLP outputs to the residual stream, so the new
   * block passes its input through unchanged until training moves them (progressive growing). Old layers keep their
   * weights under their new indices. The variables are replaced: callers holding `trainableVariables()` (an
   * optimizer) must fetch them again.
   */
  insertLayers(after: readonly number[], rng: NormalSource, options: MemoryBudgetOptions = {}): void {
    if (this.borrowed) throw new InvalidArgumentError('insertLayers: this model borrows its weights (ShowoModel.borrow); grow the owner instead');
    this.assertLive();
    const oldLayers = this.config.num_hidden_layers;
    if (after.length === 0) return;
    if (after.some((i) => !(Number.isInteger(i) && i >= 0 && i < oldLayers))) {
      throw new InvalidArgumentError(`insertLayers: layer indices must be integers in 0…${oldLayers - 1}, got [${after.join(', ')}]`);
    }
    // Where each old layer lands, and which new indices are fresh.
    const oldToNew: number[] = [];
    const fresh = new Set<number>();
    let next = 0;
    for (let i = 0; i < oldLayers; i++) {
      oldToNew.push(next++);
      for (const a of after) if (a === i) fresh.add(next++);
    }
    const config = { ...this.config, num_hidden_layers: next };
    assertModelFits(config, options);
    const layerOf = (name: string) => /\.layers\.(\d+)\./.exec(name);
    const zeroAtStart = ['.self_attn.dense.weight', '.self_attn.dense.bias', '.mlp.fc2.weight', '.mlp.fc2.bias'];
    const vars = new Map<string, tf.Variable>();
    for (const spec of paramSpecs(config)) {
      const m = layerOf(spec.name);
      const layer = m ? Number(m[1]) : -1;
      if (!fresh.has(layer)) {
        const old = m ? spec.name.replace(`.layers.${layer}.`, `.layers.${oldToNew.indexOf(layer)}.`) : spec.name;
        vars.set(spec.name, this.vars.get(old)!);
        continue;
      }
      const n = spec.shape.reduce((a, b) => a * b, 1);
      let data: Float32Array = new Float32Array(n);
      if (spec.kind === 'linear' && !zeroAtStart.some((z) => spec.name.endsWith(z))) for (let i = 0; i < n; i++) data[i] = INIT_STD * rng.normal();
      else if (spec.kind === 'norm-weight') data.fill(1);
      if (spec.kind === 'linear') data = transposeHost(data, spec.shape[0], spec.shape[1]);
      const t = tf.tensor(data, memoryShape(spec), 'float32');
      vars.set(spec.name, tf.variable(t, true));
      t.dispose();
    }
    this.vars = vars;
    (this.config as { num_hidden_layers: number }).num_hidden_layers = next;
    this.w = structure(this.config, this.vars);
  }

  /**
   * Turns on `image_position_embedding: 'row_col'` without changing what the model computes: the row and column
   * tables start at zero, so logits are unchanged until training moves them (each table row gets the gradient of
   * every image token in that row / column). No-op when already on. The parameter map is replaced: callers holding
   * `trainableVariables()` must fetch them again.
   */
  addImagePositionEmbedding(): void {
    if (this.borrowed) throw new InvalidArgumentError('addImagePositionEmbedding: this model borrows its weights (ShowoModel.borrow); change the owner instead');
    this.assertLive();
    if (this.config.image_position_embedding) return;
    const config: ShowoConfig = { ...this.config, image_position_embedding: 'row_col' };
    validateShowoConfig(config);
    const side = imageGridSide(config);
    const H = config.hidden_size;
    const vars = new Map<string, tf.Variable>();
    for (const spec of paramSpecs(config)) {
      if (spec.name === IMAGE_ROW_EMBED || spec.name === IMAGE_COL_EMBED) {
        const zeros = tf.zeros([side, H]);
        vars.set(spec.name, tf.variable(zeros, true));
        zeros.dispose();
      } else vars.set(spec.name, this.vars.get(spec.name)!);
    }
    this.vars = vars;
    (this.config as { image_position_embedding?: 'row_col' }).image_position_embedding = 'row_col';
    this.w = structure(this.config, this.vars);
  }

  // ───────────────────────────── forward passes ─────────────────────────────

  /**
   * What enters the first layer for int32 ids [B, L] (each row a whole sequence from its start): token
   * embeddings [B, L, H], plus the image row / column embeddings when the config has `image_position_embedding`.
   * `forwardEmbeds(embed(ids), allow)` equals `forward(ids, allow)`.
   */
  embed(ids: tf.Tensor): tf.Tensor3D {
    this.assertLive();
    this.checkIds(ids);
    return tf.tidy(() => this.inputEmbeds(ids, undefined).x);
  }

  /**
   * Full forward pass. `ids` int32 [B, L]; `allow` [B, L, L] (1 = query may attend key). Position ids are
   * 0 … L−1 for every row (left padding counts, as in the official code). Differentiable with respect to
   * {@link trainableVariables}. Returns logits [B, L', V] (L' per {@link ForwardOptions.logits}).
   */
  forward(ids: tf.Tensor, allow: AllowInput, options: ForwardOptions = {}): tf.Tensor3D {
    this.assertLive();
    this.checkIds(ids);
    return tf.tidy(() => this.forwardEmbedsInner(this.embedTraced(ids, options.onIntermediate), allow, options));
  }

  /** {@link forward} from input embeddings [B, L, H] instead of ids (e.g. for soft prompts or mixed inputs). */
  forwardEmbeds(embeds: tf.Tensor3D, allow: AllowInput, options: ForwardOptions = {}): tf.Tensor3D {
    this.assertLive();
    if (embeds.rank !== 3 || embeds.shape[2] !== this.config.hidden_size) {
      throw new InvalidArgumentError(`forwardEmbeds: embeddings must be [B, L, ${this.config.hidden_size}], got [${embeds.shape.join(', ')}]`);
    }
    return tf.tidy(() => this.forwardEmbedsInner(embeds, allow, options));
  }

  /**
   * This engine's share of the weights for {@link forwardParallel} on `rank` of two engines: the q/k/v columns of
   * half of the heads, the matching rows of `dense`, about half of the MLP (engine 0, which also runs the lm_head,
   * a little less). Copies, owned by the caller (dispose them);
   * take a new share after the weights change.
   */
  shard(rank: 0 | 1): ShowoShard {
    this.assertLive();
    return new ShowoShard(this.w.layers, this.dims.numHeads, this.dims.headDim, rank, this.config.vocab_size);
  }

  /**
   * {@link forward} computed by two engines at once (tensor parallelism, `DualEngine.runTensorParallel`): each runs
   * this with its own {@link ShowoModel.shard | shard} and `share` (`ctx.parallel`), and every layer joins the two halves with one
   * all-reduce. Logits on rank 0 (equal to `forward`'s up to float rounding), undefined on rank 1. With
   * `share.size === 1` it is `forward` and needs no shard. `options.onIntermediate` is not called on the split path
   * (each engine holds only half of most intermediates).
   */
  forwardParallel(ids: tf.Tensor, allow: AllowInput, shard: ShowoShard | undefined, share: ParallelShare, options: ForwardOptions = {}): tf.Tensor3D | undefined {
    if (share.size === 1) return this.forward(ids, allow, options);
    this.assertLive();
    this.checkIds(ids);
    if (!shard || shard.rank !== share.rank || shard.layers.length !== this.config.num_hidden_layers) {
      throw new InvalidArgumentError(`forwardParallel on rank ${share.rank} needs this model's shard(${share.rank})`);
    }
    return tf.tidy(() => {
      let x = this.inputEmbeds(ids, undefined).x;
      const [B, L] = x.shape;
      const bias = this.biasOf(allow, B, L, L);
      const rope = rotaryTables(0, L, this.dims.headDim, this.dims.rotaryDim, this.config.rope_theta);
      const dims = { ...this.dims, numHeads: shard.numHeads };
      for (const lw of shard.layers) {
        const { out } = decoderLayer(x, lw, dims, rope, bias, undefined, undefined, false);
        x = tf.add(x, share.allReduceSum(out)) as tf.Tensor3D;
      }
      return share.rank === 0 ? this.head(x, options) : undefined;
    });
  }

  /** A cache with no positions for `batch` rows (start of KV-cache decoding). */
  emptyCache(batch: number): KVCache {
    this.assertLive();
    if (!Number.isInteger(batch) || batch < 1) throw new InvalidArgumentError(`emptyCache: batch must be a positive integer, got ${batch}`);
    return new KVCache(this.id, batch);
  }

  /**
   * Runs a prefix (ids [B, P], allow [B, P, P]) and returns a cache of its keys and values, without computing
   * logits. For MaskGIT with classifier-free guidance pass the cond and uncond prefixes as 2B rows.
   */
  prefill(ids: tf.Tensor, allow: AllowInput): KVCache {
    this.assertLive();
    this.checkIds(ids);
    const cache = this.emptyCache(ids.shape[0]);
    try {
      this.runCached(ids, allow, cache, true, undefined);
    } catch (e) {
      cache.dispose();
      throw e;
    }
    return cache;
  }

  /**
   * Forward of T new positions against a cache of P positions: `ids` int32 [B, T] (positions P … P+T−1),
   * `allowRows` [B, T, P+T] — the mask rows of the new queries over the cached keys followed by their own.
   * With `append: true` the cache grows to P+T (autoregressive decoding; start from {@link emptyCache} to
   * process the prompt and get its last logits in one call); with `append: false` it is left unchanged
   * (MaskGIT steps against a {@link prefill}ed prefix). Equal to the corresponding rows of a full
   * {@link forward} when the prefix rows of the full mask do not attend to later positions. Not meant for
   * training (use {@link forward}).
   */
  forwardWithCache(ids: tf.Tensor, allowRows: AllowInput, cache: KVCache, options: CachedForwardOptions): tf.Tensor3D {
    return this.runCached(ids, allowRows, cache, options.append, options)!;
  }

  // ───────────────────────────── internals ─────────────────────────────

  private runCached(ids: tf.Tensor, allow: AllowInput, cache: KVCache, append: boolean, options: ForwardOptions | undefined): tf.Tensor3D | undefined {
    this.assertLive();
    this.checkIds(ids);
    const [B, T] = ids.shape as [number, number];
    const past = cache.layers(this.id, B);
    const P = cache.length;
    let runs: number[] | undefined;
    const out = tidyObject(() => {
      const bias = this.biasOf(allow, B, T, P + T);
      const input = this.inputEmbeds(ids, cache.imageRuns);
      runs = input.runs;
      options?.onIntermediate?.('embed', input.x);
      const { hidden, kv } = this.layers(input.x, bias, P, past, options?.onIntermediate);
      const logits = options ? this.head(hidden, options) : undefined;
      return { logits, kv: append ? kv : [] };
    });
    if (append) {
      cache.replace(out.kv, P + T);
      if (runs) cache.imageRuns = runs;
    }
    return out.logits;
  }

  private forwardEmbedsInner(x: tf.Tensor3D, allow: AllowInput, options: ForwardOptions): tf.Tensor3D {
    const [B, L] = x.shape;
    const bias = this.biasOf(allow, B, L, L);
    const { hidden } = this.layers(x, bias, 0, undefined, options.onIntermediate);
    return this.head(hidden, options);
  }

  private embedTraced(ids: tf.Tensor, trace: IntermediateCallback | undefined): tf.Tensor3D {
    const { x } = this.inputEmbeds(ids, undefined);
    trace?.('embed', x);
    return x;
  }

  /**
   * Token embeddings [B, T, H], plus each image token's row and column embedding when configured. An image token
   * is a code or [MASK]; its place in the grid is its index in the run of image tokens it belongs to, continuing
   * `startRuns` (the runs that end a cache). Returns the runs that end these T positions (undefined when unused).
   */
  private inputEmbeds(ids: tf.Tensor, startRuns: readonly number[] | undefined): { x: tf.Tensor3D; runs?: number[] } {
    const tokens = embedding(ids, this.w.embedTokens) as tf.Tensor3D; // [B,T,H]
    const table = this.w.imagePosition;
    if (!table) return { x: tokens };
    const [B, T] = ids.shape as [number, number];
    const c = this.config;
    const first = c.llm_vocab_size + c.num_new_special_tokens; // image codes, then [MASK] at first + K
    const last = first + c.codebook_size;
    const side = imageGridSide(c);
    const N = c.num_vq_tokens;
    const data = ids.dataSync();
    const rows = new Int32Array(B * T);
    const cols = new Int32Array(B * T);
    const isImage = new Float32Array(B * T);
    const runs: number[] = [];
    let any = false;
    for (let b = 0; b < B; b++) {
      let run = startRuns?.[b] ?? 0;
      for (let t = 0; t < T; t++) {
        const i = b * T + t;
        const id = data[i];
        if (id >= first && id <= last) {
          const k = run % N;
          rows[i] = Math.floor(k / side);
          cols[i] = k % side;
          isImage[i] = 1;
          run++;
          any = true;
        } else run = 0;
      }
      runs.push(run);
    }
    if (!any) return { x: tokens, runs };
    const place = tf.add(embedding(tf.tensor2d(rows, [B, T], 'int32'), table.row), embedding(tf.tensor2d(cols, [B, T], 'int32'), table.col));
    return { x: tf.add(tokens, tf.mul(place, tf.tensor3d(isImage, [B, T, 1]))) as tf.Tensor3D, runs };
  }

  /** The decoder stack over T new positions at positions offset … offset+T−1. */
  private layers(x: tf.Tensor3D, bias: tf.Tensor3D, offset: number, past: LayerKV[] | undefined, trace: IntermediateCallback | undefined): { hidden: tf.Tensor3D; kv: LayerKV[] } {
    const rope = rotaryTables(offset, x.shape[1], this.dims.headDim, this.dims.rotaryDim, this.config.rope_theta);
    const kv: LayerKV[] = [];
    this.w.layers.forEach((lw, i) => {
      const layerTrace = trace ? (name: string, t: tf.Tensor) => trace(`layer${i}.${name}`, t) : undefined;
      const r = decoderLayer(x, lw, this.dims, rope, bias, past?.[i], layerTrace);
      x = r.out;
      kv.push(r.kv);
    });
    return { hidden: x, kv };
  }

  /** Final LayerNorm and lm_head on the selected positions: [B, T, H] → [B, T', V]. */
  private head(hidden: tf.Tensor3D, options: ForwardOptions): tf.Tensor3D {
    const [B, T, H] = hidden.shape;
    const sel = options.logits ?? 'all';
    let h = hidden;
    if (sel === 'last') h = T === 1 ? hidden : tf.slice(hidden, [0, T - 1, 0], [B, 1, H]); // decoding: no copy
    else if (sel !== 'all' && 'rows' in sel) {
      const rows = Int32Array.from(sel.rows);
      if (rows.length === 0) throw new InvalidArgumentError('logits rows: select at least one position');
      for (const r of rows) {
        if (!(r >= 0 && r < B * T)) throw new InvalidArgumentError(`logits row ${r} is outside the ${B}×${T} input positions`);
      }
      // A gather whose gradient (a segment sum) exists on every backend, unlike tf.gather's on wasm.
      h = embedding(tf.tensor1d(rows, 'int32'), hidden.reshape([B * T, H]) as tf.Tensor2D).reshape([1, rows.length, H]) as tf.Tensor3D;
    } else if (sel !== 'all') {
      const { start, length } = sel;
      if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 1 || start + length > T) {
        throw new InvalidArgumentError(`logits range {start: ${start}, length: ${length}} is outside the ${T} input positions`);
      }
      h = tf.slice(hidden, [0, start, 0], [B, length, H]);
    }
    // Per-position ops, so slicing first is exact. (The trace shows the selected positions only.)
    const normed = layerNorm(h, this.w.finalLayernorm.gamma, this.w.finalLayernorm.beta, this.config.layer_norm_eps) as tf.Tensor3D;
    options.onIntermediate?.('final_layernorm', normed);
    return linear(normed, this.w.lmHead.w, this.w.lmHead.b) as tf.Tensor3D;
  }

  /** Additive attention bias [B, Lq, Lk] from an allow-mask, with its shape checked. */
  private biasOf(allow: AllowInput, B: number, Lq: number, Lk: number): tf.Tensor3D {
    let mask: tf.Tensor;
    if (allow instanceof tf.Tensor) {
      mask = allow;
    } else {
      const a = allow as AllowMaskLike;
      if (!a || !(a.data instanceof Uint8Array) || a.data.length !== a.batch * a.queries * a.keys) {
        throw new InvalidArgumentError('allow-mask: expected a tensor or { batch, queries, keys, data: Uint8Array } with batch·queries·keys bytes');
      }
      mask = tf.tensor3d(a.data, [a.batch, a.queries, a.keys], 'bool');
    }
    const s = mask.shape;
    if (s.length !== 3 || s[0] !== B || s[1] !== Lq || s[2] !== Lk) {
      throw new InvalidArgumentError(`allow-mask must be [${B}, ${Lq}, ${Lk}] (batch, queries, cached + new keys), got [${s.join(', ')}]`);
    }
    return allowMaskToBias(mask);
  }

  private checkIds(ids: tf.Tensor): void {
    if (!(ids instanceof tf.Tensor) || ids.rank !== 2 || ids.dtype !== 'int32') {
      throw new InvalidArgumentError(`ids must be an int32 tensor [B, L], got ${ids instanceof tf.Tensor ? `${ids.dtype} [${ids.shape.join(', ')}]` : typeof ids}`);
    }
    const [b, l] = ids.shape as [number, number];
    if (b < 1 || l < 1) throw new InvalidArgumentError(`ids must not be empty, got [${ids.shape.join(', ')}]`);
  }

  private assertLive(): void {
    if (this.isDisposed) throw new InvalidArgumentError('this ShowoModel was disposed');
  }
}

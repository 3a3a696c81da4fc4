/**
 * Tensor parallelism over two engines (Megatron's split of a transformer layer). Phi's block is parallel — attention
 * and MLP both read LayerNorm(x) and their outputs are added to x — so each layer needs a single all-reduce:
 *
 *   engine r:  partial_r = dense_r(attention over its heads) + fc2_r(gelu(fc1_r(h)))     (h = LayerNorm(x), whole)
 *   both:      x' = x + allReduceSum(partial_r)
 *
 * Engine r holds the q/k/v columns of its heads, the matching rows of `dense`, its share of fc1's columns and of
 * fc2's rows; the output biases of `dense` and `fc2` are added by engine 0 only. Embedding, LayerNorms and the
 * rotary tables are computed whole on both (cheap, and it keeps the hidden states identical on both engines); the
 * final LayerNorm and lm_head run on engine 0, so engine 0 takes V / (4 · layers) fewer MLP units per layer than
 * half (the lm_head's work at every position), and both engines reach the last all-reduce together.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@showo/runtime';
import type { DecoderLayerWeights, LinearWeights, NormWeights } from './block.js';

/** What a tensor-parallel forward needs of its engine (structurally `TensorParallelContext` of `@showo/runtime`). */
export interface ParallelShare {
  readonly rank: 0 | 1;
  readonly size: 1 | 2;
  allReduceSum(t: tf.Tensor): tf.Tensor;
}

/** One engine's share of every layer's weights, as tensors of its own ({@link dispose} frees them). */
export class ShowoShard {
  /** Heads of this share. */
  readonly numHeads: number;
  readonly rank: 0 | 1;
  readonly layers: DecoderLayerWeights[];

  /** @internal Made by `ShowoModel.shard`. */
  constructor(layers: readonly DecoderLayerWeights[], numHeads: number, headDim: number, rank: 0 | 1, vocabSize = 0) {
    if (numHeads < 2) throw new InvalidArgumentError(`a model with ${numHeads} attention head cannot be split over two engines`);
    this.rank = rank;
    const firstHeads = Math.ceil(numHeads / 2);
    this.numHeads = rank === 0 ? firstHeads : numHeads - firstHeads;
    const headStart = rank === 0 ? 0 : firstHeads * headDim;
    const headWidth = this.numHeads * headDim;
    this.layers = layers.map((l) => {
      const inter = l.fc1.w.shape[1];
      // An MLP unit costs 4·H FLOPs per position and layer, the lm_head 2·H·V per position: shift V / (4·layers).
      const firstUnits = Math.min(inter - 1, Math.max(1, Math.round(inter / 2 - vocabSize / (4 * layers.length))));
      const unitStart = rank === 0 ? 0 : firstUnits;
      const units = rank === 0 ? firstUnits : inter - firstUnits;
      // Every tensor made here is a result (no intermediates): keep() lets it outlive any enclosing tidy.
      {
        const columns = (lin: LinearWeights, start: number, width: number): LinearWeights => ({
          w: tf.keep(tf.slice(lin.w, [0, start], [lin.w.shape[0], width])) as tf.Variable<tf.Rank.R2>,
          b: tf.keep(tf.slice(lin.b, [start], [width])) as tf.Variable<tf.Rank.R1>,
        });
        const rows = (lin: LinearWeights, start: number, height: number): LinearWeights => ({
          w: tf.keep(tf.slice(lin.w, [start, 0], [height, lin.w.shape[1]])) as tf.Variable<tf.Rank.R2>,
          // The output bias belongs to the whole sum: engine 0 adds it, engine 1 adds zeros.
          b: tf.keep(rank === 0 ? lin.b.clone() : tf.zerosLike(lin.b)) as tf.Variable<tf.Rank.R1>,
        });
        const norm = (n: NormWeights | undefined): NormWeights | undefined =>
          n && { gamma: tf.keep(n.gamma.clone()) as tf.Variable<tf.Rank.R1>, beta: tf.keep(n.beta.clone()) as tf.Variable<tf.Rank.R1> };
        return {
          inputLayernorm: norm(l.inputLayernorm)!,
          qProj: columns(l.qProj, headStart, headWidth),
          kProj: columns(l.kProj, headStart, headWidth),
          vProj: columns(l.vProj, headStart, headWidth),
          dense: rows(l.dense, headStart, headWidth),
          qLayernorm: norm(l.qLayernorm),
          kLayernorm: norm(l.kLayernorm),
          fc1: columns(l.fc1, unitStart, units),
          fc2: rows(l.fc2, unitStart, units),
        } as DecoderLayerWeights;
      }
    });
  }

  /** Frees the share's tensors. */
  dispose(): void {
    for (const l of this.layers) {
      for (const part of Object.values(l)) {
        if (!part) continue;
        tf.dispose(Object.values(part as Record<string, tf.Tensor>));
      }
    }
    this.layers.length = 0;
  }
}

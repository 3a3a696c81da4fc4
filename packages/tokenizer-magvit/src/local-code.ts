/**
 * Training-only auxiliary objective that makes every code describe its own patch.
 *
 * A decoder with a wide receptive field lets the encoder spread a patch's content (its colour, say) over the codes
 * around it: the decoder reads it back from the neighbourhood. Reconstruction stays good, but a generator that
 * draws codes then has to get colour right through several tokens at once. The local-code head is a small MLP that
 * must predict the palette class of each pixel of a patch from that patch's quantised code alone; its loss,
 * back-propagated through the straight-through quantiser, pushes each code to carry its own patch. The head is
 * not part of the tokenizer (it is never saved with it, and the official architecture is unchanged).
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, SeededRandom, linear } from '@showo/runtime';
import type { MagvitConfig } from './types.js';

/** Name prefix of the head's variables, so that they can share a name space with the tokenizer's parameters. */
export const LOCAL_CODE_HEAD_PREFIX = 'aux.local_code.';

/** The head's parameters: the first `bits` dimensions of codes [N, bits] → hidden [N, H] (ReLU) → logits [N, P·P·K]. */
export interface LocalCodeHead {
  w1: tf.Tensor2D;
  b1: tf.Tensor1D;
  w2: tf.Tensor2D;
  b2: tf.Tensor1D;
}

let nextHeadId = 0;

/** Options of {@link createLocalCodeHead}. */
export interface LocalCodeHeadOptions {
  /** Hidden width of the MLP (default 64). */
  hidden?: number;
  /**
   * The head reads only the first `bits` dimensions of each code (default: all). With few bits (3 hold the 7
   * classes of a 6-colour palette) the head asks those bits to name the patch's colour on their own. On the
   * embedded tokenizer this raised colour purity less than the all-bits head did (TRAINING.md, fourth session).
   */
  bits?: number;
  seed?: number;
}

/** Creates the head's variables for a palette tokenizer whose codes cover `patch`×`patch` pixels. */
export function createLocalCodeHead(config: MagvitConfig, patch: number, options: LocalCodeHeadOptions = {}): Map<string, tf.Variable> {
  if (config.outputMode !== 'palette' || !config.palette) throw new InvalidArgumentError('the local-code head needs a palette tokenizer (output_mode "palette")');
  if (!(Number.isInteger(patch) && patch > 0)) throw new InvalidArgumentError(`patch must be a positive integer, got ${patch}`);
  const D = options.bits ?? config.codebookDim;
  if (!(Number.isInteger(D) && D >= 1 && D <= config.codebookDim)) throw new InvalidArgumentError(`bits must be an integer in [1, ${config.codebookDim}], got ${options.bits}`);
  const H = options.hidden ?? 64;
  const out = patch * patch * config.palette.length;
  const rng = new SeededRandom(options.seed ?? 0);
  const init = (n: number, fanIn: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal() / Math.sqrt(fanIn));
  // tfjs variable names are global: each head gets its own scope, keyed by the stable names above.
  const scope = `local_code_head${nextHeadId++}/`;
  const make = (k: string, t: tf.Tensor): [string, tf.Variable] => {
    const v = tf.variable(t, true, scope + k);
    t.dispose();
    return [LOCAL_CODE_HEAD_PREFIX + k, v];
  };
  return new Map<string, tf.Variable>([
    make('w1', tf.tensor2d(init(D * H, D), [D, H])),
    make('b1', tf.zeros([H])),
    make('w2', tf.tensor2d(init(H * out, H), [H, out])),
    make('b2', tf.zeros([out])),
  ]);
}

/** Picks the head's tensors out of a name → tensor map (e.g. a trainer's variables); undefined when absent. */
export function localCodeHeadFrom(weights: Readonly<Record<string, tf.Tensor>> | ReadonlyMap<string, tf.Tensor>): LocalCodeHead | undefined {
  const get = (k: string): tf.Tensor | undefined => (weights instanceof Map ? weights.get(LOCAL_CODE_HEAD_PREFIX + k) : (weights as Record<string, tf.Tensor>)[LOCAL_CODE_HEAD_PREFIX + k]);
  const [w1, b1, w2, b2] = ['w1', 'b1', 'w2', 'b2'].map(get);
  if (!w1 || !b1 || !w2 || !b2) return undefined;
  return { w1: w1 as tf.Tensor2D, b1: b1 as tf.Tensor1D, w2: w2 as tf.Tensor2D, b2: b2 as tf.Tensor1D };
}

/**
 * Mean cross-entropy of each pixel's palette class predicted from its patch's code alone.
 * zq: quantised codes [B, h, w, D] (±1, straight-through); targets: int32 classes [B, h·P, w·P].
 */
export function localCodeLoss(zq: tf.Tensor4D, targets: tf.Tensor3D, head: LocalCodeHead, classes: number): tf.Scalar {
  const [B, h, w, D] = zq.shape;
  const [tb, H, W] = targets.shape;
  if (tb !== B || H % h !== 0 || W % w !== 0 || H / h !== W / w) {
    throw new InvalidArgumentError(`local-code targets [${targets.shape.join(', ')}] do not tile codes [${zq.shape.join(', ')}]`);
  }
  const P = H / h;
  if (head.w2.shape[1] !== P * P * classes) {
    throw new InvalidArgumentError(`local-code head predicts ${head.w2.shape[1]} values per code, patches need ${P}·${P}·${classes}`);
  }
  const bits = head.w1.shape[0];
  if (bits > D) throw new InvalidArgumentError(`local-code head reads ${bits} code bits, codes have ${D}`);
  return tf.tidy(() => {
    const codes = zq.reshape([B * h * w, D]);
    const hidden = tf.relu(linear(bits === D ? codes : tf.slice(codes, [0, 0], [-1, bits]), head.w1, head.b1));
    const logits = linear(hidden, head.w2, head.b2).reshape([B * h * w * P * P, classes]);
    // [B, h·P, w·P] → [B, h, w, P, P] in the code order, then one class per row.
    const patches = tf.cast(targets, 'int32').reshape([B, h, P, w, P]).transpose([0, 1, 3, 2, 4]).reshape([-1]);
    const logp = tf.logSoftmax(logits, -1);
    return tf.neg(tf.mean(tf.sum(tf.mul(logp, tf.oneHot(patches as tf.Tensor1D, classes)), -1))) as tf.Scalar;
  });
}

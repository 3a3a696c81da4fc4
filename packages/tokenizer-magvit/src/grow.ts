/**
 * Deepening a trained decoder without changing what it draws (Net2Net-style growth): new ResNet blocks are appended
 * to decoder levels with their second convolution (and any attention block's `proj_out`) at zero, so each new
 * block starts as the identity and the grown tokenizer decodes every code exactly as before. Encoder and quantiser
 * are untouched, so codes — and a Show-o trained on them — stay valid.
 */
import * as tf from '@tensorflow/tfjs';
import { SeededRandom } from '@showo/runtime';
import { cloneMagvitConfig, validateMagvitConfig } from './config.js';
import { MagvitConfigError } from './errors.js';
import { defaultInitializer } from './init.js';
import { MagvitTokenizer } from './model.js';
import { parameterSpecs, tfShape } from './params.js';
import type { MagvitConfig } from './types.js';

export interface DeepenDecoderOptions {
  /** Seed of the new blocks' first convolutions and shortcuts (PyTorch's default uniform init). Default 0. */
  seed?: number;
}

/**
 * A new tokenizer whose decoder has `extraBlocks[i]` more ResNet blocks at level `i` (official level order: 0 is
 * the full resolution). The input is not changed or disposed.
 *
 * A block can start as the identity only when its input and output widths agree. A level that already has blocks
 * keeps its width (ch · ch_mult[i]), which its existing blocks already have. A level without blocks has no width of
 * its own yet (its input passes straight through), so its `ch_mult` is set to keep the incoming width — a change no
 * parameter depends on. A level whose incoming width is not a multiple of `ch` cannot grow: typed error.
 */
export function deepenDecoder(model: MagvitTokenizer, extraBlocks: readonly number[], options: DeepenDecoderOptions = {}): MagvitTokenizer {
  const old = model.config;
  const d = old.decoder;
  if (extraBlocks.length !== d.chMult.length || !extraBlocks.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new MagvitConfigError(`deepenDecoder: give one non-negative block count per decoder level (${d.chMult.length} levels), got [${extraBlocks.join(', ')}]`);
  }
  const config: MagvitConfig = cloneMagvitConfig(old);
  const chMult = [...d.chMult];
  // Width entering each level, walking top-down as the decoder does.
  let width = d.ch * d.chMult[d.chMult.length - 1];
  for (let i = d.chMult.length - 1; i >= 0; i--) {
    if (d.numResBlocks[i] > 0) width = d.ch * d.chMult[i];
    else if (extraBlocks[i] > 0) {
      if (width % d.ch !== 0) throw new MagvitConfigError(`deepenDecoder: level ${i} receives ${width} channels, not a multiple of ch ${d.ch}`);
      chMult[i] = width / d.ch;
    }
  }
  config.decoder = { ...config.decoder, chMult, numResBlocks: d.numResBlocks.map((n, i) => n + extraBlocks[i]) };
  validateMagvitConfig(config);

  const isNew = (name: string): boolean => {
    const m = /^decoder\.up\.(\d+)\.(block|attn)\.(\d+)\./.exec(name);
    return m !== null && Number(m[3]) >= d.numResBlocks[Number(m[1])];
  };
  const startsAtZero = (name: string): boolean => /\.(conv2|proj_out)\.(weight|bias)$/.test(name);
  const specs = parameterSpecs(config);
  const init = defaultInitializer(specs, new SeededRandom(options.seed ?? 0));
  const oldVars = model.namedVariables();
  const tensors = new Map<string, tf.Tensor>();
  for (const s of specs) {
    if (!isNew(s.name)) {
      const v = oldVars.get(s.name);
      // Unreachable for a valid growth (every old name keeps its shape); kept as a typed guard.
      if (!v) throw new MagvitConfigError(`deepenDecoder: ${s.name} missing from the source tokenizer`);
      tensors.set(s.name, v.clone());
      continue;
    }
    // Zeros draw nothing, so the random draws (and a re-run of a grown tokenizer) stay as they were.
    const data = startsAtZero(s.name) ? new Float32Array(s.torchShape.reduce((a, b) => a * b, 1)) : init(s);
    tensors.set(s.name, tf.tensor(data, tfShape(s)));
  }
  return MagvitTokenizer.fromTensors(config, tensors, '<deepenDecoder>');
}

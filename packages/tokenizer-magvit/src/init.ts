/**
 * PyTorch's default initial values, shared by `MagvitTokenizer.create` and `deepenDecoder` (internal to the package):
 * conv weights and biases uniform in ±1/√fan_in, GroupNorm scale 1 and shift 0.
 */
import type { ParamSpec } from './params.js';

/** Draws the initial values of each spec of `specs` (in the order asked) from `rng`. */
export function defaultInitializer(specs: readonly ParamSpec[], rng: { next(): number }): (spec: ParamSpec) => Float32Array {
  const fanIn = new Map<string, number>();
  for (const s of specs) {
    if (s.kind === 'conv') fanIn.set(s.name.slice(0, -'.weight'.length), s.torchShape[1]! * s.torchShape[2]! * s.torchShape[3]!);
  }
  return (s) => {
    const size = s.torchShape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const fan = fanIn.get(s.name.slice(0, s.name.lastIndexOf('.')));
    if (fan !== undefined) {
      const bound = 1 / Math.sqrt(fan);
      for (let i = 0; i < size; i++) data[i] = (2 * rng.next() - 1) * bound;
    } else if (s.name.endsWith('.weight')) data.fill(1); // GroupNorm scale
    return data;
  };
}

import { InvalidArgumentError } from '@showo/runtime';

/** Anything a generator accepts as randomness: a seed, a uniform function in [0, 1), or an object with `next()`. */
export type RandomSource = number | (() => number) | { next(): number } | Rng;

function splitmix32(state: number): [number, number] {
  // Returns [output, nextState]; used only to spread a seed over the 128-bit sfc32 state.
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return [(z ^ (z >>> 15)) >>> 0, s];
}

/**
 * Small seeded random generator for scene and language sampling.
 *
 * Algorithm: **sfc32** (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit state, 32-bit output,
 * period ≥ 2^32 thanks to its counter), state filled from the seed by **splitmix32** and warmed up by 12 draws so
 * that nearby seeds give unrelated streams. A seed may be any finite number: its low and high 32 bits are both
 * mixed in. Alternatively wrap any uniform source (`() => number` or `{ next() }`, e.g. the runtime's
 * `SeededRandom`) — then this class only adds the helpers.
 */
export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  private readonly external: (() => number) | undefined;

  constructor(source: number | (() => number) | { next(): number } = 0) {
    if (typeof source === 'number') {
      if (!Number.isFinite(source)) throw new InvalidArgumentError(`seed must be a finite number, got ${source}`);
      const lo = source >>> 0;
      const hi = Math.floor(source / 4294967296) >>> 0;
      let st = lo ^ Math.imul(hi, 0x85ebca6b);
      [this.a, st] = splitmix32(st);
      [this.b, st] = splitmix32(st);
      [this.c, st] = splitmix32(st);
      [this.d, st] = splitmix32(st);
      for (let i = 0; i < 12; i++) this.nextUint32();
      this.external = undefined;
    } else if (typeof source === 'function') {
      this.external = source;
    } else if (source && typeof source.next === 'function') {
      this.external = () => source.next();
    } else {
      throw new InvalidArgumentError('random source must be a seed, a function or an object with next()');
    }
  }

  private nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    if (this.external) {
      const u = this.external();
      // A foreign source may return exactly 1 (float32 rounding); keep every helper in range.
      return u >= 1 ? 0.9999999999999999 : u < 0 ? 0 : u;
    }
    return this.nextUint32() / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Integer in [lo, hi], both inclusive. */
  range(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A uniformly chosen element; throws on an empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new InvalidArgumentError('cannot pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** A key chosen with probability proportional to its (non-negative) weight. */
  weighted<K extends string>(weights: Readonly<Partial<Record<K, number>>>): K {
    let total = 0;
    for (const k in weights) total += Math.max(0, weights[k] ?? 0);
    if (!(total > 0)) throw new InvalidArgumentError('weights must contain a positive value');
    let u = this.next() * total;
    let last: K | undefined;
    for (const k in weights) {
      const w = Math.max(0, weights[k] ?? 0);
      if (w === 0) continue;
      last = k;
      if (u < w) return k;
      u -= w;
    }
    return last!;
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }

  /** A new independent generator seeded from this stream (for sub-streams that must not shift each other). */
  fork(): Rng {
    return new Rng(this.int(4294967296) + this.int(2097152) * 4294967296);
  }
}

/** Normalises any {@link RandomSource} into an {@link Rng} (an `Rng` is returned as is, so its stream continues). */
export function toRng(source: RandomSource): Rng {
  return source instanceof Rng ? source : new Rng(source);
}

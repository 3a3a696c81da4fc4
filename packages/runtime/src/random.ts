import { ShowoError } from './errors.js';

/**
 * A source of uniform numbers in [0, 1). Every sampler and the trainer draw their randomness through this
 * interface, so a caller can inject recorded uniforms (the conformance fixtures do) or a seeded generator.
 */
export interface UniformSource {
  /** Next uniform in [0, 1). */
  next(): number;
}

/** Raised when a recorded uniform sequence is exhausted. */
export class UniformsExhaustedError extends ShowoError {
  constructor(count: number) {
    super('UNIFORMS_EXHAUSTED', `recorded uniform source exhausted after ${count} draws`);
  }
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * Seeded uniform generator: **xoshiro128\*\*** (Blackman & Vigna), state seeded from a 32-bit seed through
 * splitmix32. `next()` returns the top 24 bits divided by 2^24, so every value is exactly representable in
 * float32 and lies in [0, 1) — float32 consumers never see a rounded-up 1.0. The state can be saved and
 * restored (`getState`/`setState`) so an interrupted training run resumes with the same draws.
 */
export class SeededRandom implements UniformSource {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | undefined;

  constructor(seed = 0) {
    const sm = splitmix32(seed);
    this.s0 = sm();
    this.s1 = sm();
    this.s2 = sm();
    this.s3 = sm();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    this.s3 >>>= 0;
    return result;
  }

  next(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller, pairs cached). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const v = this.spareNormal;
      this.spareNormal = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fills a new Float32Array with `n` uniforms. */
  uniforms(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next();
    return out;
  }

  /** A new independent generator derived from this one (advances this one by 1 draw). */
  fork(): SeededRandom {
    return new SeededRandom(this.nextUint32());
  }

  getState(): number[] {
    return [this.s0, this.s1, this.s2, this.s3, this.spareNormal ?? NaN];
  }

  setState(state: readonly number[]): void {
    [this.s0, this.s1, this.s2, this.s3] = state.map((x) => x >>> 0);
    this.spareNormal = Number.isNaN(state[4]) || state[4] === undefined || state[4] === null ? undefined : state[4];
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Replays recorded uniforms in order (conformance tests); throws when they run out. */
export class RecordedUniforms implements UniformSource {
  private index = 0;
  constructor(private readonly values: ArrayLike<number>) {}
  next(): number {
    if (this.index >= this.values.length) throw new UniformsExhaustedError(this.index);
    return this.values[this.index++];
  }
  /** How many were drawn so far. */
  get consumed(): number {
    return this.index;
  }
}

/** Draws `n` uniforms from a source into a Float32Array (values rounded to float32, as fixtures require). */
export function drawUniforms(source: UniformSource, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = source.next();
  return out;
}

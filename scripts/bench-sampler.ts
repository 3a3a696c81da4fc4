// Benchmark of @showo/sampler on the bench config (hidden 256, 4 layers, 8 heads, intermediate 1024, 1024 image
// codes, 32 text + 256 image tokens = 291 positions, 3.79 M parameters, random weights):
//   - MaskGIT text-to-image through the real pipeline (textToImage stream): per-step latency and total, with and
//     without the prefix cache, with and without classifier-free guidance;
//   - the autoregressive equivalent of the same image: N = 256 tokens, one per step (generateTokens stream on the
//     t2i prefix + <|soi|>), with the KV cache and without it (the official mmu_generate recomputes everything).
// Per-step latency is the median gap between consecutive step/token events (host sampling included).
// Usage: node --import tsx scripts/bench-sampler.ts [--backend wasm] [--steps 18] [--guidance 5] [--ar-tokens 256] [--reps 2]
//        [--ar-recompute-tokens 64]   (recomputation is O(L²) per token: measured on the first tokens only)
import { lastValueFrom, tap, toArray } from 'rxjs';
import { SeededRandom, initBackend } from '@showo/runtime';
import { UniversalPrompting } from '@showo/prompting';
import { ShowoModel, tokenLayoutFor, type ShowoConfig, BENCH_CONFIG } from '@showo/showo-core';
import { AutoregressiveSampler, MASKED, MaskGitScheduler, generateTokens, textToImage, type CacheMode } from '@showo/sampler';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
};
const BACKEND = arg('backend', 'wasm');
const STEPS = Number(arg('steps', '18'));
const GUIDANCE = Number(arg('guidance', '5'));
const AR_TOKENS = Number(arg('ar-tokens', '256'));
const AR_RECOMPUTE_TOKENS = Number(arg('ar-recompute-tokens', '64'));
// Best of REPS runs per row: on a shared machine the fastest run is the least disturbed one.
const REPS = Number(arg('reps', '2'));

const CONFIG: ShowoConfig = { ...BENCH_CONFIG };

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN;
};

interface Row {
  what: string;
  cache: string;
  steps: number;
  first: number;
  perStep: number;
  total: number;
}

/** Runs a stream REPS times, timing the gaps between its step/token events; keeps the fastest run. */
async function timed(what: string, cache: CacheMode, run: () => import('rxjs').Observable<{ type: string }>, unit: 'step' | 'token'): Promise<Row> {
  let best: Row | undefined;
  for (let r = 0; r < REPS; r++) {
    const stamps: number[] = [];
    const t0 = performance.now();
    await lastValueFrom(run().pipe(tap((e) => e.type === unit && stamps.push(performance.now())), toArray()));
    const total = performance.now() - t0;
    const gaps = stamps.slice(1).map((t, i) => t - stamps[i]!);
    const row = { what, cache: cache === 'auto' ? 'yes' : 'no', steps: stamps.length, first: stamps[0]! - t0, perStep: median(gaps), total };
    if (!best || row.total < best.total) best = row;
  }
  return best!;
}

async function main(): Promise<void> {
  const backend = await initBackend(BACKEND);
  const model = ShowoModel.random(CONFIG, 0);
  const layout = tokenLayoutFor(CONFIG, { bosId: 199 });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: 32, numVqTokens: 256 });
  const prompt = Array.from({ length: 20 }, (_, i) => (i * 7) % 199);
  const rows: Row[] = [];

  // Warm-up (kernel set-up, allocations) on both paths.
  await lastValueFrom(textToImage({ model, prompting }, { prompts: [prompt], steps: 2 }).pipe(toArray()));

  for (const g of [0, GUIDANCE]) {
    for (const cache of ['none', 'auto'] as CacheMode[]) {
      rows.push(await timed(`MaskGIT t2i, ${STEPS} steps, ${g > 0 ? `CFG w=${g} (2 rows)` : 'no CFG (1 row)'}`, cache, () => textToImage({ model, prompting, cache }, { prompts: [prompt], steps: STEPS, guidanceScale: g, seed: 1 }), 'step'));
    }
  }

  // The AR equivalent: the t2i prefix and <|soi|>, then one image token per step.
  const prefix = prompting.t2iGen({ texts: [prompt], imageIds: [new Array(256).fill(layout.maskId)] }).inputIds[0]!.slice(0, prompting.maxTextLen + 1);
  for (const cache of ['auto', 'none'] as CacheMode[]) {
    const tokens = cache === 'auto' ? AR_TOKENS : Math.min(AR_TOKENS, AR_RECOMPUTE_TOKENS);
    const row = await timed(`AR, ${tokens} of ${AR_TOKENS} tokens (1 row)`, cache, () => generateTokens({ model, prompting, cache }, { prompts: [prefix], maxNewTokens: tokens, stopIds: [], seed: 1 }), 'token');
    if (tokens < AR_TOKENS) {
      // Recomputation costs about linearly in the sequence length P+t at token t: scale by Σ(P+t).
      const work = (n: number) => n * prefix.length + (n * (n - 1)) / 2;
      row.what += ` (total for ${AR_TOKENS} extrapolated: ≈${((row.total * work(AR_TOKENS)) / work(tokens)).toFixed(0)} ms)`;
    }
    rows.push(row);
  }
  model.dispose();

  // The sampler's own host work per step (no model): MaskGIT step on [256, 1024] probabilities, AR choice on [1, V].
  const rng = new SeededRandom(1);
  const probs = new Float32Array(256 * 1024);
  for (let r = 0; r < 256; r++) {
    let sum = 0;
    for (let j = 0; j < 1024; j++) sum += probs[r * 1024 + j] = rng.next();
    for (let j = 0; j < 1024; j++) probs[r * 1024 + j]! /= sum;
  }
  const sched = new MaskGitScheduler({ steps: STEPS });
  const state = sched.initialState(new Int32Array(256).fill(MASKED), 1);
  const hostTimes: number[] = [];
  for (let i = 0; i < 11; i++) {
    const t0 = performance.now();
    sched.step(probs, state, rng);
    hostTimes.push(performance.now() - t0);
  }
  rows.push({ what: 'sampler host work only: MaskGIT step, 256×1024 probs', cache: '—', steps: 1, first: hostTimes[0]!, perStep: median(hostTimes.slice(1)), total: NaN });
  const ar = new AutoregressiveSampler({ topK: 50, maxNewTokens: 1000 });
  const logits = Float32Array.from({ length: CONFIG.vocab_size }, () => rng.normal());
  const arTimes: number[] = [];
  let arState = ar.initialState(1);
  for (let i = 0; i < 21; i++) {
    const t0 = performance.now();
    arState = ar.step(logits, arState, rng).state;
    arTimes.push(performance.now() - t0);
  }
  rows.push({ what: `sampler host work only: AR top-k 50 choice, V = ${CONFIG.vocab_size}`, cache: '—', steps: 1, first: arTimes[0]!, perStep: median(arTimes.slice(1)), total: NaN });

  const f = (x: number) => (Number.isNaN(x) ? '—' : x.toFixed(1));
  console.log(`\n@showo/sampler bench — backend ${backend.name} (${backend.provider}), ${ShowoModel.name} ${(3.79).toFixed(2)} M params, 291 positions\n`);
  console.log('| run | cache | steps | first step (ms) | per step, median (ms) | total (ms) |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.what} | ${r.cache} | ${r.steps} | ${f(r.first)} | ${f(r.perStep)} | ${f(r.total)} |`);
  console.log('\n"cache" = prefix cache for MaskGIT (text prefix once, image block per step), KV cache for AR.');
}

await main();

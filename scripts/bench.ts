// The project's headline benchmark (issue "Fast tensor paths"): one table, or one JSON object with --json.
//   npm run bench                 # human-readable table
//   npm run bench -- --json       # {"backend", "forward_b1_ms", "t2i_18step_cfg_s", "t2i_18step_cfg_dual_s", ...}
//   npm run bench -- --backend cpu --reps 3
//   npm run bench -- --only t2i   # just the t2i rows (single engine and dual engine), interleaved
//   npm run bench -- --only forward  # just the batch-1 forward, one engine and split over two, interleaved
// The dual-engine t2i runs the conditional row on the main thread and the unconditional row in a worker thread
// (`withDualEngine`, `createShowoEngine(model, { workers: 2 })`); the two t2i figures are measured alternately so
// that load from other processes hits both alike, and the 1-minute load average is reported next to them, with
// the main thread's CPU time of each (Linux): the dual run's critical path once the worker has a free core.
// Bench config of showo-core: hidden 256, 4 layers, 8 heads, intermediate 1024, 1024 codes, 32 text + 256 image
// tokens (291 positions, 3.79 M parameters). The training step uses the embedded model's size (its config.json when
// it exists, else d 128 / 4 layers) on a batch of 8 t2i rows, with our fast primitives and with tfjs's built-in
// gradients (`setPrimitiveImplementation('reference')`), and one step of the real training loop on two micro-batches
// with one engine and with `workers: 2` (one micro-batch per core). Official PyTorch on this machine kind, one thread:
// forward b1 ≈ 42 ms, 18-step CFG t2i ≈ 1.8 s.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { lastValueFrom, toArray } from 'rxjs';
import { initBackend, setPrimitiveImplementation } from '@showo/runtime';
import { UniversalPrompting } from '@showo/prompting';
import { buildOmniMaskFromIds, type AllowMask } from '@showo/omni-attention';
import { ShowoModel, createShowoEngine, tokenLayoutFor, type ShowoConfig, BENCH_CONFIG } from '@showo/showo-core';
import { generateTokens, textToImage, withDualEngine, type ImageModel } from '@showo/sampler';
import { ShowoTask, train, type ShowoBatch, type StepEvent } from '@showo/trainer';

const argv = process.argv.slice(2);
const arg = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : def;
};
const JSON_OUT = argv.includes('--json');
const REPS = Number(arg('reps', '5'));
const ONLY = arg('only', '');
const log = (s: string) => (JSON_OUT ? process.stderr.write(s + '\n') : console.log(s));

const BENCH: ShowoConfig = { ...BENCH_CONFIG };

function embeddedConfig(): ShowoConfig {
  const file = path.resolve('models/shapes-world/showo/config.json');
  if (fs.existsSync(file)) {
    const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    const c = { ...BENCH, ...raw, ...(raw.showo ?? {}) };
    return {
      ...BENCH,
      vocab_size: c.vocab_size, llm_vocab_size: c.llm_vocab_size, codebook_size: c.codebook_size, num_vq_tokens: c.num_vq_tokens,
      hidden_size: c.hidden_size, intermediate_size: c.intermediate_size, num_hidden_layers: c.num_hidden_layers,
      num_attention_heads: c.num_attention_heads, max_seq_length: c.max_seq_length ?? 24, max_position_embeddings: 4096,
    };
  }
  return { ...BENCH, vocab_size: 200 + 10 + 256 + 1, codebook_size: 256, hidden_size: 128, intermediate_size: 512, num_attention_heads: 4, max_seq_length: 24 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1]!;

async function time(reps: number, fn: () => Promise<void> | void): Promise<number> {
  await fn(); // warm-up: kernels compiled, buffers allocated
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

/** Approximate FLOPs of one forward over `tokens` positions attending to `keys` positions. */
function forwardFlops(c: ShowoConfig, tokens: number, keys: number): number {
  const H = c.hidden_size;
  const perLayer = 2 * tokens * (4 * H * H + 2 * H * c.intermediate_size) + 4 * tokens * keys * H;
  return c.num_hidden_layers * perLayer + 2 * tokens * H * c.vocab_size;
}

function t2iInput(c: ShowoConfig, rows: number): { ids: tf.Tensor2D; mask: AllowMask; idsHost: number[][] } {
  const layout = tokenLayoutFor(c, { bosId: c.llm_vocab_size - 1 });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: c.max_seq_length!, numVqTokens: c.num_vq_tokens });
  const text = Array.from({ length: 12 }, (_, i) => (i * 7) % (c.llm_vocab_size - 1));
  const images = Array.from({ length: rows }, (_, r) => Array.from({ length: c.num_vq_tokens }, (_, i) => (i + r) % 3 === 0 ? layout.maskId : layout.codeToId((i * 13) % c.codebook_size)));
  const p = prompting.t2iGen({ texts: Array(rows).fill(text), imageIds: images });
  const idsHost = p.inputIds.map((r) => [...r]);
  const mask = buildOmniMaskFromIds(idsHost, { padId: layout.padId, soiId: layout.special('<|soi|>'), eoiId: layout.special('<|eoi|>') }, { pad: 'isolate' });
  return { ids: tf.tensor2d(idsHost, [rows, idsHost[0]!.length], 'int32'), mask, idsHost };
}

/** CPU seconds of this process's main thread (Linux /proc; NaN elsewhere). */
function mainThreadCpuS(): number {
  try {
    const fields = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

interface Timing {
  /** Median wall time, ms. */
  ms: number;
  /** Median CPU time of the main thread, s: the critical path when the worker has a core of its own. */
  mainCpuS: number;
}

/** Medians of `a` and `b` timed alternately (`reps` each, after one warm-up each). */
async function timeAlternating(reps: number, a: () => Promise<void>, b: () => Promise<void>): Promise<[Timing, Timing]> {
  await a();
  await b();
  const ta: Array<[number, number]> = [];
  const tb: Array<[number, number]> = [];
  for (let i = 0; i < reps; i++) {
    for (const [fn, ts] of (i % 2 ? [[b, tb], [a, ta]] : [[a, ta], [b, tb]]) as Array<[() => Promise<void>, Array<[number, number]>]>) {
      const c0 = mainThreadCpuS();
      const t0 = performance.now();
      await fn();
      ts.push([performance.now() - t0, mainThreadCpuS() - c0]);
    }
  }
  const summary = (ts: Array<[number, number]>): Timing => ({ ms: median(ts.map((t) => t[0])), mainCpuS: median(ts.map((t) => t[1])) });
  return [summary(ta), summary(tb)];
}

/**
 * 18-step t2i with CFG 5, on one engine and on two (cond row on the main thread, uncond row in a worker): seconds
 * each, the worker's start-up, whether both gave the same codes, and the load average while measuring.
 */
async function t2iSingleAndDual(model: ShowoModel, prompting: UniversalPrompting, prompt: number[], reps: number) {
  const t0 = performance.now();
  const engine = await createShowoEngine(model, { workers: 2 });
  const startS = (performance.now() - t0) / 1000;
  try {
    const dual = withDualEngine(model, engine);
    const codes = async (m: ImageModel) => {
      const events = await lastValueFrom(textToImage({ model: m, prompting, cache: 'auto' }, { prompts: [prompt], steps: 18, guidanceScale: 5, seed: 1 }).pipe(toArray()));
      const done = events.at(-1)!;
      return done.type === 'done' ? Array.from(done.result.codes[0]!) : [];
    };
    const load0 = os.loadavg()[0]!;
    const [single, two] = await timeAlternating(
      reps,
      async () => void (await codes(model)),
      async () => void (await codes(dual)),
    );
    const identical = JSON.stringify(await codes(model)) === JSON.stringify(await codes(dual));
    return {
      singleS: single.ms / 1000,
      dualS: two.ms / 1000,
      singleMainCpuS: single.mainCpuS,
      dualMainCpuS: two.mainCpuS,
      startS,
      identical,
      load: [load0, os.loadavg()[0]!] as const,
    };
  } finally {
    await engine.dispose();
  }
}

async function peakGflops(): Promise<number> {
  const a = tf.randomNormal([1024, 1024]);
  const b = tf.randomNormal([1024, 1024]);
  const ms = await time(5, () => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  });
  a.dispose();
  b.dispose();
  return (2 * 1024 ** 3) / (ms * 1e6);
}

async function trainStepSeconds(c: ShowoConfig, impl: 'fast' | 'reference'): Promise<number> {
  const previous = setPrimitiveImplementation(impl);
  try {
    const model = ShowoModel.random(c, 1);
    const { ids, mask } = t2iInput(c, 8);
    const allow = tf.tensor3d(mask.data, [mask.batch, mask.queries, mask.keys], 'bool');
    const [B, L] = ids.shape;
    const labels = tf.oneHot(tf.randomUniform([B * L], 0, c.vocab_size, 'int32'), c.vocab_size).toFloat();
    const vars = model.trainableVariables();
    const step = () => {
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const logits = model.forward(ids, allow).reshape([B * L, c.vocab_size]);
          return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), labels), -1))) as tf.Scalar;
        }, vars);
        value.dataSync();
        Object.values(grads).forEach((g) => g.dataSync());
      });
    };
    const ms = await time(Math.max(2, Math.min(REPS, 3)), step);
    tf.dispose([ids, allow, labels]);
    model.dispose();
    return ms / 1000;
  } finally {
    setPrimitiveImplementation(previous);
  }
}

/**
 * One optimiser step of the real training loop (`train` + `ShowoTask`, AdamW, clipping) on two micro-batches of 8
 * t2i rows, with one engine (sequential accumulation) or two (`workers: 2`: one micro-batch per core). Median
 * step time after a warm-up step.
 */
async function trainLoopStepSeconds(c: ShowoConfig, workers: 1 | 2, steps = 4): Promise<number> {
  const model = ShowoModel.random(c, 1);
  const { ids, mask } = t2iInput(c, 8);
  const [B, L] = ids.shape;
  const inputIds = ids.dataSync() as Int32Array;
  ids.dispose();
  const labels = new Int32Array(B * L).fill(-100);
  const msl = c.max_seq_length!;
  for (let b = 0; b < B; b++) for (let i = msl + 1; i < L; i++) labels[b * L + i] = inputIds[b * L + i]!;
  const batch: ShowoBatch = { kind: 'mixed', batch: B, length: L, inputIds, labels, allow: mask, batchT2i: B, batchLm: 0, batchMmu: 0 };
  const data = { next: () => ({ done: false as const, value: batch }) };
  const times: number[] = [];
  try {
    await new Promise<void>((resolve, reject) =>
      train({ model: new ShowoTask(model, { maxSeqLength: msl }), data, schedule: { kind: 'constant', lr: 1e-4 }, totalSteps: steps + 1, gradAccumSteps: 2, clipGradNorm: 1, workers }).subscribe({
        next: (e) => {
          if (e.type === 'step' && (e as StepEvent).step > 1) times.push((e as StepEvent).stepMs);
        },
        error: reject,
        complete: resolve,
      }),
    );
  } finally {
    model.dispose();
  }
  return median(times) / 1000;
}

/**
 * Batch-1 forward on the main thread alone and split over two engines (`runTensorParallel('forward')`: half of the
 * heads and of the MLP of every layer each, one all-reduce per layer), timed alternately; also checks that both
 * give the same logits.
 */
async function forwardSingleAndParallel(model: ShowoModel, fwd: ReturnType<typeof t2iInput>, reps: number) {
  const engine = await createShowoEngine(model, { workers: 2 });
  const allow = tf.tensor3d(fwd.mask.data, [fwd.mask.batch, fwd.mask.queries, fwd.mask.keys], 'bool');
  const inputs = { ids: fwd.ids, allow };
  const options = { config: model.config };
  const floats = fwd.ids.size * model.config.hidden_size;
  try {
    const a = model.forward(fwd.ids, fwd.mask);
    const b = (await engine.runTensorParallel('forward', inputs, options, floats)) as tf.Tensor;
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
    tf.dispose([a, b]);
    if (!(diff < 1e-3)) throw new Error(`tensor-parallel logits differ from the single-engine ones by ${diff}`);
    const [single, parallel] = await timeAlternating(
      reps,
      async () => {
        const y = model.forward(fwd.ids, fwd.mask);
        y.dataSync();
        y.dispose();
      },
      async () => {
        const y = (await engine.runTensorParallel('forward', inputs, options, floats)) as tf.Tensor;
        y.dataSync();
        y.dispose();
      },
    );
    return { singleMs: single.ms, parallelMs: parallel.ms, maxDiff: diff };
  } finally {
    allow.dispose();
    await engine.dispose();
  }
}

async function main(): Promise<void> {
  const backend = await initBackend(arg('backend', 'auto'), { log: (l) => log(l) });
  if (ONLY === 't2i') return t2iOnly(backend.name);
  if (ONLY === 'forward') {
    const model = ShowoModel.random(BENCH, 0);
    const fwd = t2iInput(BENCH, 1);
    const r = await forwardSingleAndParallel(model, fwd, REPS);
    const flops = forwardFlops(BENCH, fwd.ids.shape[1], fwd.ids.shape[1]);
    const load = os.loadavg()[0]!;
    if (JSON_OUT) console.log(JSON.stringify({ backend: backend.name, forward_b1_ms: +r.singleMs.toFixed(1), forward_b1_tp_ms: +r.parallelMs.toFixed(1), max_abs_diff: r.maxDiff, load_1m: +load.toFixed(2) }));
    else {
      console.log('| what | time | effective GFLOP/s |\n|---|---|---|');
      console.log(`| forward, batch 1, one engine | ${r.singleMs.toFixed(1)} ms | ${(flops / r.singleMs / 1e6).toFixed(1)} |`);
      console.log(`| forward, batch 1, tensor-parallel over two engines | ${r.parallelMs.toFixed(1)} ms | ${(flops / r.parallelMs / 1e6).toFixed(1)} |`);
      console.log(`\nmax |Δ logits| ${r.maxDiff.toExponential(2)}; 1-minute load ${load.toFixed(2)}`);
    }
    tf.dispose(fwd.ids);
    model.dispose();
    return;
  }
  const peak = await peakGflops();
  const model = ShowoModel.random(BENCH, 0);
  const L = 1 + BENCH.max_seq_length! + 2 + BENCH.num_vq_tokens; // 291
  const fwd = t2iInput(BENCH, 1);
  const { singleMs: forwardMs, parallelMs: forwardTpMs } = await forwardSingleAndParallel(model, fwd, REPS);

  const layout = tokenLayoutFor(BENCH, { bosId: 199 });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: BENCH.max_seq_length!, numVqTokens: BENCH.num_vq_tokens });
  const prompt = Array.from({ length: 20 }, (_, i) => (i * 7) % 199);
  const t2i = await t2iSingleAndDual(model, prompting, prompt, Math.max(2, Math.min(REPS, 3)));
  const t2iS = t2i.singleS;

  // A 32-token answer after an mmu-sized prompt (image block + question: 280 positions).
  const mmuPrompt = [layout.special('<|mmu|>'), layout.special('<|soi|>'), ...Array.from({ length: 256 }, (_, i) => layout.codeToId(i % 1024)), layout.special('<|eoi|>'), 199, ...prompt];
  const answer = (cache: 'auto' | 'none') => async () => {
    await lastValueFrom(generateTokens({ model, prompting, cache }, { prompts: [mmuPrompt], maxNewTokens: 32, stopIds: [], seed: 1 }).pipe(toArray()));
  };
  const answerKv = (await time(Math.min(REPS, 2), answer('auto'))) / 1000;
  const answerRecompute = (await time(1, answer('none'))) / 1000;
  model.dispose();
  tf.dispose(fwd.ids);

  const embedded = embeddedConfig();
  const trainFast = await trainStepSeconds(embedded, 'fast');
  const trainBuiltin = await trainStepSeconds(embedded, 'reference');
  const loop1 = await trainLoopStepSeconds(embedded, 1);
  const loop2 = await trainLoopStepSeconds(embedded, 2);

  const fwdFlops = forwardFlops(BENCH, L, L);
  const imageStepFlops = 2 * forwardFlops(BENCH, 258, L); // CFG: two rows, image block against the cached prefix
  const t2iFlops = 18 * imageStepFlops;
  const arFlops = Array.from({ length: 32 }, (_, i) => forwardFlops(BENCH, 1, mmuPrompt.length + i)).reduce((a, b) => a + b, 0) + forwardFlops(BENCH, mmuPrompt.length, mmuPrompt.length);
  const arRecomputeFlops = Array.from({ length: 32 }, (_, i) => forwardFlops(BENCH, mmuPrompt.length + i, mmuPrompt.length + i)).reduce((a, b) => a + b, 0);
  const embL = 1 + embedded.max_seq_length! + 2 + embedded.num_vq_tokens;
  const trainFlops = 3 * 8 * forwardFlops(embedded, embL, embL);
  const g = (flops: number, s: number) => flops / (s * 1e9);

  const result = {
    backend: backend.name,
    peak_gflops: +peak.toFixed(1),
    forward_b1_ms: +forwardMs.toFixed(1),
    forward_b1_tp_ms: +forwardTpMs.toFixed(1),
    t2i_18step_cfg_s: +t2iS.toFixed(3),
    t2i_18step_cfg_dual_s: +t2i.dualS.toFixed(3),
    cfg_dual_speedup: +(t2iS / t2i.dualS).toFixed(2),
    dual_identical: t2i.identical,
    t2i_cfg_main_cpu_s: +t2i.singleMainCpuS.toFixed(2),
    t2i_cfg_dual_main_cpu_s: +t2i.dualMainCpuS.toFixed(2),
    dual_engine_start_s: +t2i.startS.toFixed(2),
    load_1m: +Math.max(...t2i.load).toFixed(2),
    answer_32tok_kv_s: +answerKv.toFixed(3),
    answer_32tok_recompute_s: +answerRecompute.toFixed(3),
    train_step_fast_s: +trainFast.toFixed(3),
    train_step_builtin_s: +trainBuiltin.toFixed(3),
    train_loop_step_2x8_s: +loop1.toFixed(3),
    train_loop_step_2x8_dual_s: +loop2.toFixed(3),
    train_dual_speedup: +(loop1 / loop2).toFixed(2),
    kv_speedup: +(answerRecompute / answerKv).toFixed(1),
    train_speedup: +(trainBuiltin / trainFast).toFixed(1),
    embedded_config: { hidden: embedded.hidden_size, layers: embedded.num_hidden_layers, vocab: embedded.vocab_size, positions: embL, batch: 8 },
  };
  if (JSON_OUT) {
    console.log(JSON.stringify(result));
    return;
  }
  const rows: Array<[string, string, string, string]> = [
    ['forward, batch 1, 291 positions', `${forwardMs.toFixed(1)} ms`, g(fwdFlops, forwardMs / 1000).toFixed(1), '≤ 85 ms (official 42 ms)'],
    ['forward, same, split over two engines (tensor-parallel)', `${forwardTpMs.toFixed(1)} ms`, g(fwdFlops, forwardTpMs / 1000).toFixed(1), `${(forwardMs / forwardTpMs).toFixed(2)}× vs one engine`],
    ['t2i, 18 steps, CFG 5, prefix cache', `${t2iS.toFixed(2)} s`, g(t2iFlops, t2iS).toFixed(1), '≤ 1.8 s (official)'],
    ...dualRows(t2i, t2iFlops, g),
    ['answer 32 tokens, KV cache', `${answerKv.toFixed(2)} s`, g(arFlops, answerKv).toFixed(1), `${result.kv_speedup}× vs recompute (≥ 10×)`],
    ['answer 32 tokens, recompute', `${answerRecompute.toFixed(2)} s`, g(arRecomputeFlops, answerRecompute).toFixed(1), ''],
    [`train step, embedded size (d ${embedded.hidden_size}, ${embedded.num_hidden_layers} layers, 8×${embL}), fast`, `${trainFast.toFixed(2)} s`, g(trainFlops, trainFast).toFixed(1), `${result.train_speedup}× vs built-in (≥ 5×)`],
    ['train step, same, tfjs built-in gradients', `${trainBuiltin.toFixed(2)} s`, g(trainFlops, trainBuiltin).toFixed(1), ''],
    ['training loop step, 2 micro-batches × 8 rows, one engine', `${loop1.toFixed(2)} s`, g(2 * trainFlops, loop1).toFixed(1), 'train() + AdamW + clipping'],
    ['training loop step, same, workers: 2', `${loop2.toFixed(2)} s`, g(2 * trainFlops, loop2).toFixed(1), `${(loop1 / loop2).toFixed(2)}× vs one engine`],
  ];
  console.log(`\nshowo-ts bench — backend ${backend.name}; measured peak (1024² matMul) ${peak.toFixed(1)} GFLOP/s\n`);
  console.log('| what | time | effective GFLOP/s | target / note |');
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(`\n1-minute load average while timing t2i: ${t2i.load.map((l) => l.toFixed(2)).join(' → ')} (${os.availableParallelism?.() ?? os.cpus().length} cores)`);
}

type T2iFigures = Awaited<ReturnType<typeof t2iSingleAndDual>>;

function dualRows(t: T2iFigures, flops: number, g: (flops: number, s: number) => number): Array<[string, string, string, string]> {
  const cpu = Number.isFinite(t.dualMainCpuS) ? `; main-thread CPU ${t.dualMainCpuS.toFixed(2)} s vs ${t.singleMainCpuS.toFixed(2)} s` : '';
  const note = `${(t.singleS / t.dualS).toFixed(2)}× vs one engine${cpu}; ${t.identical ? 'identical codes' : 'CODES DIFFER'}; worker start ${t.startS.toFixed(1)} s`;
  return [['t2i, same, CFG halves on two engines (workers: 2)', `${t.dualS.toFixed(2)} s`, g(flops, t.dualS).toFixed(1), note]];
}

/** `--only t2i`: the bench model's t2i on one and on two engines. */
async function t2iOnly(backendName: string): Promise<void> {
  const model = ShowoModel.random(BENCH, 0);
  const layout = tokenLayoutFor(BENCH, { bosId: 199 });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: BENCH.max_seq_length!, numVqTokens: BENCH.num_vq_tokens });
  const prompt = Array.from({ length: 20 }, (_, i) => (i * 7) % 199);
  const t = await t2iSingleAndDual(model, prompting, prompt, Math.max(2, REPS));
  model.dispose();
  const result = {
    backend: backendName,
    t2i_18step_cfg_s: +t.singleS.toFixed(3),
    t2i_18step_cfg_dual_s: +t.dualS.toFixed(3),
    cfg_dual_speedup: +(t.singleS / t.dualS).toFixed(2),
    dual_identical: t.identical,
    t2i_cfg_main_cpu_s: +t.singleMainCpuS.toFixed(2),
    t2i_cfg_dual_main_cpu_s: +t.dualMainCpuS.toFixed(2),
    dual_engine_start_s: +t.startS.toFixed(2),
    load_1m: +Math.max(...t.load).toFixed(2),
  };
  if (JSON_OUT) console.log(JSON.stringify(result));
  else console.log(result);
}

await main();

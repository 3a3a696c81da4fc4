// Benchmark of @showo/trainer: training tokens/s of Show-o on the bench config (hidden 256, 4 layers, 8 heads,
// intermediate 1024, 1024 image codes, 32 text + 256 image tokens = 291 positions, 3.79 M parameters), through the
// generic loop exactly as a stage runs it: a mixed batch (t2i + lm + mmu rows) prepared on the host (masking,
// official prompts, omni-attention masks), forward + official losses + backward, global-norm clipping, AdamW.
//
// Usage: node --import tsx scripts/bench-trainer.ts [--backend wasm] [--steps 5] [--warmup 2] [--t2i 4] [--lm 1] [--mmu 3]
// Tokens/s counts every position of every row (B·L per step), as the official trainer processes them.
import * as tf from '@tensorflow/tfjs';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { initBackend, SeededRandom } from '@showo/runtime';
import { TokenLayout, UniversalPrompting } from '@showo/prompting';
import { ShowoModel, type ShowoConfig, BENCH_CONFIG } from '@showo/showo-core';
import { AdamW, ShowoTask, buildShowoBatch, train, type ShowoBatch, type StepEvent } from '@showo/trainer';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
};
const BACKEND = arg('backend', 'wasm');
const STEPS = Number(arg('steps', '5'));
const WARMUP = Number(arg('warmup', '2'));
const ROWS = { t2i: Number(arg('t2i', '4')), lm: Number(arg('lm', '1')), mmu: Number(arg('mmu', '3')) };

const MSL = 32;
const CONFIG: ShowoConfig = { ...BENCH_CONFIG };

/** Endless synthetic mixed batches: random texts of 5–30 ids, random codes; the real preparation path. */
function* batches(prompting: UniversalPrompting, seed: number, prepMs: number[]): Generator<ShowoBatch> {
  const r = new SeededRandom(seed);
  const layout = prompting.layout;
  const text = () => Array.from({ length: 5 + r.int(26) }, () => r.int(199));
  const image = () => Array.from({ length: CONFIG.num_vq_tokens }, () => layout.imageOffset + r.int(CONFIG.codebook_size));
  for (;;) {
    const t0 = performance.now();
    const b = buildShowoBatch(
      prompting,
      {
        t2i: { texts: Array.from({ length: ROWS.t2i }, text), imageIds: Array.from({ length: ROWS.t2i }, image) },
        lm: { texts: Array.from({ length: ROWS.lm }, () => Array.from({ length: 40 + r.int(200) }, () => r.int(199))) },
        mmu: { texts: Array.from({ length: ROWS.mmu }, text), imageIds: Array.from({ length: ROWS.mmu }, image) },
      },
      r,
    );
    prepMs.push(performance.now() - t0);
    yield b;
  }
}

async function main(): Promise<void> {
  const choice = await initBackend(BACKEND);
  const layout = new TokenLayout({ llmVocabSize: 200, codebookSize: CONFIG.codebook_size, bosId: 199 });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: MSL, numVqTokens: CONFIG.num_vq_tokens });
  const model = ShowoModel.random(CONFIG, 0);
  const optimizer = new AdamW();
  const prepMs: number[] = [];
  const L = prompting.t2iSequenceLength;
  const B = ROWS.t2i + ROWS.lm + ROWS.mmu;
  console.log(`bench-trainer: backend ${choice.name}, ${model.parameterCount} parameters, batch ${B}×${L} (t2i ${ROWS.t2i}, lm ${ROWS.lm}, mmu ${ROWS.mmu}), ${WARMUP} warm-up + ${STEPS} timed steps`);
  // CPU time per step as well as wall time: on a shared machine the wall clock also counts other processes' turns,
  // the process's CPU time (wasm runs on this one thread) does not.
  const cpuMs: number[] = [];
  let lastCpu = process.cpuUsage();
  const events = await lastValueFrom(
    train({
      model: new ShowoTask(model, { maxSeqLength: MSL }),
      data: batches(prompting, 1, prepMs),
      optimizer,
      schedule: { kind: 'constant', lr: 1e-4 },
      totalSteps: WARMUP + STEPS,
      clipGradNorm: 1,
    }).pipe(
      tap((e) => {
        if (e.type !== 'step') return;
        const now = process.cpuUsage();
        cpuMs.push((now.user - lastCpu.user + now.system - lastCpu.system) / 1000);
        lastCpu = now;
      }),
      toArray(),
    ),
  );
  const steps = events.filter((e): e is StepEvent => e.type === 'step');
  for (const [i, s] of steps.entries()) console.log(`  step ${s.step}: ${s.stepMs.toFixed(0)} ms wall, ${cpuMs[i].toFixed(0)} ms CPU, loss ${s.loss.toFixed(4)} (t2i ${s.parts.t2i?.toFixed(3)}, lm ${s.parts.lm?.toFixed(3)}, mmu ${s.parts.mmu?.toFixed(3)})`);
  const timed = steps.slice(WARMUP);
  const ms = timed.map((s) => s.stepMs).sort((a, b) => a - b);
  const median = ms[Math.floor(ms.length / 2)];
  const tokens = B * L;
  const cpu = cpuMs.slice(WARMUP).sort((a, b) => a - b);
  const medianCpu = cpu[Math.floor(cpu.length / 2)];
  const prep = prepMs.slice(WARMUP).sort((a, b) => a - b)[Math.floor((prepMs.length - WARMUP) / 2)];
  const summary = {
    backend: choice.name,
    parameters: model.parameterCount,
    batch: B,
    length: L,
    tokensPerStep: tokens,
    medianStepMs: Math.round(median),
    tokensPerSecond: Math.round((tokens * 1000) / median),
    medianStepCpuMs: Math.round(medianCpu),
    tokensPerCpuSecond: Math.round((tokens * 1000) / medianCpu),
    batchPrepMs: Math.round(prep * 10) / 10,
    numTensors: tf.memory().numTensors,
  };
  console.log(
    `training: ${summary.tokensPerSecond} tokens/s wall (median step ${summary.medianStepMs} ms for ${tokens} tokens), ` +
      `${summary.tokensPerCpuSecond} tokens per CPU second (${summary.medianStepCpuMs} ms CPU; what one unloaded core gives); ` +
      `host batch preparation ${summary.batchPrepMs} ms per step`,
  );
  console.log(JSON.stringify(summary));
  optimizer.dispose();
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

// Benchmark of @showo/showo-core on the bench config (hidden 256, 4 layers, 8 heads, intermediate 1024,
// 1024 image codes, 32 text + 256 image tokens = 291 positions, 3.79 M parameters):
//   - forward latency and tokens/s at batch 1 and 2;
//   - one MaskGIT step with CFG (2 rows): full recomputation vs the image block against a prefix cache;
//   - autoregressive decoding of 32 tokens after an mmu prompt, without vs with the KV cache.
// Usage: node --import tsx scripts/bench-core.ts [--backends wasm,cpu] [--reps 5] [--ar-tokens 32]
// (Official PyTorch on this machine kind, one thread: forward b1 ≈ 42 ms, b2 ≈ 77–92 ms.)
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@showo/runtime';
import { ShowoModel, type AllowMaskLike, type ShowoConfig, BENCH_CONFIG } from '@showo/showo-core';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
};
const BACKENDS = arg('backends', 'wasm,cpu').split(',');
const REPS = Number(arg('reps', '5'));
const AR_TOKENS = Number(arg('ar-tokens', '32'));

const CONFIG: ShowoConfig = { ...BENCH_CONFIG };
const MSL = 32;
const N = CONFIG.num_vq_tokens;
const P = MSL + 1; // t2i text prefix: [PAD]… <|t2i|> BOS text EOS
const L = P + N + 2; // 291
const [PAD, SOI, EOI, T2I, MMU, MASK] = [200, 201, 202, 205, 206, 1234];

function t2iIds(rows: number): Int32Array {
  const ids = new Int32Array(rows * L);
  for (let r = 0; r < rows; r++) {
    const text = r % 2 === 0 ? 20 : 0; // cond rows have text, uncond rows are empty (all padding)
    for (let i = 0; i < P; i++) ids[r * L + i] = i < P - text - 3 ? PAD : i === P - text - 3 ? T2I : i === P - text - 2 || i === P - 1 ? 199 : (i * 7) % 199;
    ids[r * L + P] = SOI;
    for (let i = 0; i < N; i++) ids[r * L + P + 1 + i] = i % 3 === 0 ? MASK : 210 + ((i * 13) % 1024);
    ids[r * L + L - 1] = EOI;
  }
  return ids;
}

/** predict_next with rm_pad_in_image (the t2i generation mask), per row. */
function t2iMask(ids: Int32Array, rows: number): AllowMaskLike {
  const data = new Uint8Array(rows * L * L);
  for (let r = 0; r < rows; r++) {
    let lastPad = -1;
    for (let i = 0; i < P; i++) if (ids[r * L + i] === PAD) lastPad = i;
    for (let q = 0; q < L; q++)
      for (let k = 0; k < L; k++) {
        let ok = q < P ? k <= q : ids[r * L + k] !== PAD;
        if (q > lastPad && k <= lastPad && ids[r * L + q] !== PAD) ok = false;
        if (q === k) ok = true;
        data[(r * L + q) * L + k] = ok ? 1 : 0;
      }
  }
  return { batch: rows, queries: L, keys: L, data };
}

function rowsOf(m: AllowMaskLike, q0: number, q1: number, k1: number): AllowMaskLike {
  const out = new Uint8Array(m.batch * (q1 - q0) * k1);
  for (let b = 0; b < m.batch; b++)
    for (let i = q0; i < q1; i++) out.set(m.data.subarray((b * m.queries + i) * m.keys, (b * m.queries + i) * m.keys + k1), (b * (q1 - q0) + i - q0) * k1);
  return { batch: m.batch, queries: q1 - q0, keys: k1, data: out };
}

function time(fn: () => void, reps: number, warmUp = true): number {
  if (warmUp) fn(); // warm-up (kernel compilation, allocations)
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

interface Row {
  backend: string;
  case: string;
  ms: number;
  tokensPerS?: number;
  note?: string;
}

async function bench(backend: string): Promise<Row[]> {
  await initBackend(backend);
  const reps = backend === 'cpu' ? Math.min(REPS, 2) : REPS;
  const model = ShowoModel.random(CONFIG, 0);
  const out: Row[] = [];
  const start = tf.memory().numTensors;

  for (const b of [1, 2]) {
    const idsHost = t2iIds(b);
    const ids = tf.tensor2d(idsHost, [b, L], 'int32');
    const mask = t2iMask(idsHost, b);
    const ms = time(() => model.forward(ids, mask).dispose(), reps);
    out.push({ backend, case: `forward b${b} (${L} tokens)`, ms, tokensPerS: (b * L * 1000) / ms });
    ids.dispose();
  }

  // One MaskGIT step with CFG: 2 rows (cond, uncond).
  {
    const idsHost = t2iIds(2);
    const ids = tf.tensor2d(idsHost, [2, L], 'int32');
    const mask = t2iMask(idsHost, 2);
    const full = time(() => model.forward(ids, mask).dispose(), reps);
    const fullImg = time(() => model.forward(ids, mask, { logits: { start: P + 1, length: N } }).dispose(), reps);
    const prefix = tf.slice(ids, [0, 0], [2, P]);
    const block = tf.slice(ids, [0, P], [2, N + 2]);
    const prefixRows = rowsOf(mask, 0, P, P);
    const blockRows = rowsOf(mask, P, L, L);
    const cache = model.prefill(prefix, prefixRows);
    const cached = time(() => model.forwardWithCache(block, blockRows, cache, { append: false, logits: { start: 1, length: N } }).dispose(), reps);
    const prefill = time(() => model.prefill(prefix, prefixRows).dispose(), reps);
    cache.dispose();
    out.push({ backend, case: 'MaskGIT step, CFG (2 rows): full, all logits', ms: full });
    out.push({ backend, case: 'MaskGIT step, CFG: full, image logits only', ms: fullImg });
    out.push({ backend, case: 'MaskGIT step, CFG: prefix-cached block', ms: cached, note: `prefill once per prompt: ${prefill.toFixed(1)} ms` });
    tf.dispose([ids, prefix, block]);
  }

  // AR decoding after an mmu prompt: <|mmu|> <|soi|> image(256) <|eoi|> BOS question(6).
  {
    const prompt = [MMU, SOI, ...Array.from({ length: N }, (_, i) => 210 + ((i * 29) % 1024)), EOI, 199, 5, 17, 42, 99, 3, 8];
    const eoi = N + 2;
    const allowed = (q: number, k: number) => k <= q || k <= eoi; // create_attention_mask_for_mmu
    const maskFor = (q0: number, q1: number): AllowMaskLike => {
      const data = new Uint8Array((q1 - q0) * q1);
      for (let q = q0; q < q1; q++) for (let k = 0; k < q1; k++) data[(q - q0) * q1 + k] = allowed(q, k) ? 1 : 0;
      return { batch: 1, queries: q1 - q0, keys: q1, data };
    };
    const next = (logits: tf.Tensor) => {
      const t = tf.tidy(() => tf.argMax(logits.reshape([-1]), 0));
      const id = t.dataSync()[0];
      t.dispose();
      return id % CONFIG.llm_vocab_size; // stay in text ids
    };
    const noCache = () => {
      const seq = [...prompt];
      for (let t = 0; t < AR_TOKENS; t++) {
        const ids = tf.tensor2d(seq, [1, seq.length], 'int32');
        const logits = model.forward(ids, maskFor(0, seq.length), { logits: 'last' });
        seq.push(next(logits));
        tf.dispose([ids, logits]);
      }
    };
    const withCache = () => {
      const cache = model.emptyCache(1);
      const seq = [...prompt];
      let ids = tf.tensor2d(seq, [1, seq.length], 'int32');
      let logits = model.forwardWithCache(ids, maskFor(0, seq.length), cache, { append: true, logits: 'last' });
      for (let t = 0; t < AR_TOKENS; t++) {
        seq.push(next(logits));
        tf.dispose([ids, logits]);
        if (t === AR_TOKENS - 1) break;
        ids = tf.tensor2d([[seq[seq.length - 1]]], [1, 1], 'int32');
        logits = model.forwardWithCache(ids, maskFor(seq.length - 1, seq.length), cache, { append: true, logits: 'last' });
      }
      cache.dispose();
    };
    const arReps = backend === 'cpu' ? 1 : Math.max(1, Math.min(reps, 3));
    // The forward benches above already warmed every kernel up; on cpu one AR run takes minutes.
    const a = time(noCache, arReps, backend !== 'cpu');
    const c = time(withCache, arReps, backend !== 'cpu');
    out.push({ backend, case: `AR ${AR_TOKENS} tokens after a ${prompt.length}-token prompt, no cache`, ms: a, tokensPerS: (AR_TOKENS * 1000) / a });
    out.push({ backend, case: `AR ${AR_TOKENS} tokens, KV cache (prompt prefill included)`, ms: c, tokensPerS: (AR_TOKENS * 1000) / c });
  }

  if (tf.memory().numTensors !== start) out.push({ backend, case: 'LEAK', ms: tf.memory().numTensors - start, note: 'tensors left' });
  model.dispose();
  return out;
}

const model0Params = 4 * 4 * (256 * 256 + 256) + 4 * (2 * 256 * 1024 + 1024 + 256 + 2 * 256 + 4 * 32) + 2 * 256 + 1235 * 256 * 2 + 1235;
const rows: Row[] = [];
for (const b of BACKENDS) rows.push(...(await bench(b)));
const w = Math.max(...rows.map((r) => r.case.length));
console.log(`\nshowo-core bench: ${CONFIG.num_hidden_layers} layers, hidden ${CONFIG.hidden_size}, ${L} positions, ${(model0Params / 1e6).toFixed(2)} M params; median of ${REPS} (cpu: ≤2) after warm-up\n`);
console.log(`| backend | ${'case'.padEnd(w)} | ms | tokens/s | note |`);
console.log(`|---|${'-'.repeat(w + 2)}|---:|---:|---|`);
for (const r of rows) console.log(`| ${r.backend} | ${r.case.padEnd(w)} | ${r.ms.toFixed(1)} | ${r.tokensPerS ? r.tokensPerS.toFixed(0) : ''} | ${r.note ?? ''} |`);

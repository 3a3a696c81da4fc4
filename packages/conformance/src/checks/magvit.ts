/**
 * Conformance of `@showo/tokenizer-magvit` against the magvit-tiny fixtures of the official implementation
 * (README "magvit-tiny"): encoder output, codes, dequantised latent, decoded images, per-module intermediates,
 * the t2i pipeline decode and the quantiser's training terms. Codes must match exactly, floats within 1e-4
 * (losses 1e-5). A missing or malformed fixture yields failed checks, never an exception.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readSafetensors, type HostTensor } from '@showo/runtime';
import { lfqForward, loadMagvit, parseMagvitConfig, type MagvitTokenizer } from '@showo/tokenizer-magvit';
import type { CheckResult } from '../types.js';

const FLOAT_TOL = 1e-4;
const LOSS_TOL = 1e-5;

/** NCHW host data → NHWC Float32Array (fixtures store PyTorch layout). */
function nchwToNhwc(t: HostTensor): { data: Float32Array; shape: [number, number, number, number] } {
  const [n, c, h, w] = t.shape;
  const out = new Float32Array(t.data.length);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) out[((b * h + y) * w + x) * c + ch] = t.data[((b * c + ch) * h + y) * w + x];
  return { data: out, shape: [n, h, w, c] };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

function countMismatches(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

function floatCheck(name: string, got: ArrayLike<number>, want: ArrayLike<number>, tol = FLOAT_TOL): CheckResult {
  if (got.length !== want.length) return { name, ok: false, detail: `length ${got.length}, expected ${want.length}` };
  const d = maxAbsDiff(got, want);
  return { name, ok: d <= tol, detail: `max |Δ| = ${d.toExponential(2)} (tolerance ${tol})` };
}

function exactCheck(name: string, got: ArrayLike<number>, want: ArrayLike<number>): CheckResult {
  const bad = countMismatches(got, want);
  return { name, ok: bad === 0, detail: bad === 0 ? `${want.length} values identical` : `${bad} of ${want.length} values differ` };
}

/** Runs f in a tfjs scope (its tensors freed on return) and passes its plain result out. */
function scoped<T>(f: () => T): T {
  let out!: T;
  tf.tidy(() => {
    out = f();
  });
  return out;
}

/** The fixture folder: `dir/magvit-tiny` when given the reference root, else `dir` itself. */
function fixtureDir(dir: string): string {
  const nested = path.join(dir, 'magvit-tiny');
  return fs.existsSync(path.join(nested, 'magvit.json')) ? nested : dir;
}

/**
 * Runs every magvit-tiny check. `dir` is the reference folder (holding `magvit-tiny/`) or the magvit-tiny folder
 * itself. The tfjs backend is whatever the caller selected.
 */
export async function checkMagvit(dir: string): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const fail = (name: string, e: unknown): CheckResult => ({ name, ok: false, detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  const run = (name: string, f: () => CheckResult | CheckResult[]): void => {
    try {
      const r = f();
      results.push(...(Array.isArray(r) ? r : [r]));
    } catch (e) {
      results.push(fail(name, e));
    }
  };

  const root = fixtureDir(dir);
  let meta: Record<string, unknown>;
  let io: Map<string, HostTensor>;
  let model: MagvitTokenizer;
  const startTensors = tf.memory().numTensors;
  try {
    meta = JSON.parse(fs.readFileSync(path.join(root, 'magvit.json'), 'utf8')) as Record<string, unknown>;
    io = readSafetensors(path.join(root, 'io.safetensors')).tensors;
    const config = parseMagvitConfig(meta);
    model = loadMagvit(path.join(root, 'weights.safetensors'), { config });
  } catch (e) {
    return [fail('magvit.load', e)];
  }
  results.push({ name: 'magvit.load', ok: true, detail: `${model.parameterCount()} parameters, codebook ${model.codebookSize}` });
  const need = (key: string): HostTensor => {
    const t = io.get(key);
    if (!t) throw new Error(`io.safetensors has no tensor "${key}"`);
    return t;
  };
  try {
    run('magvit.config.inferred', () => {
      // The config read off tensor shapes must describe the same network as the fixture's constructor args.
      const inferred = loadMagvit(path.join(root, 'weights.safetensors'), { resolution: model.config.encoder.resolution });
      try {
        const a = JSON.stringify([inferred.config.encoder, inferred.config.decoder].map((p) => [p.ch * p.chMult[0], p.chMult.map((m) => m * p.ch), p.numResBlocks]));
        const b = JSON.stringify([model.config.encoder, model.config.decoder].map((p) => [p.ch * p.chMult[0], p.chMult.map((m) => m * p.ch), p.numResBlocks]));
        return { name: 'magvit.config.inferred', ok: a === b, detail: a === b ? 'same network' : `inferred ${a}, fixture ${b}` };
      } finally {
        inferred.dispose();
      }
    });

    const input = (() => {
      try {
        return nchwToNhwc(need('input_images'));
      } catch (e) {
        results.push(fail('magvit.input_images', e));
        return undefined;
      }
    })();
    const refCodes = (() => {
      try {
        return need('codes');
      } catch (e) {
        results.push(fail('magvit.codes', e));
        return undefined;
      }
    })();

    if (input) {
      run('magvit.encoder_out_prequant', () =>
        scoped(() => {
          const z = model.encoderOutput(tf.tensor4d(input.data, input.shape));
          return floatCheck('magvit.encoder_out_prequant', z.dataSync(), nchwToNhwc(need('encoder_out_prequant')).data);
        }),
      );
      run('magvit.codes', () =>
        scoped(() => {
          const codes = model.encodeToCodes(tf.tensor4d(input.data, input.shape)).dataSync();
          const out = [exactCheck('magvit.codes', codes, need('codes').data)];
          const jsonCodes = meta.codes;
          if (Array.isArray(jsonCodes)) out.push(exactCheck('magvit.codes.json', codes, (jsonCodes as number[][]).flat()));
          return out;
        }),
      );
      run('magvit.quantizer_losses', () =>
        scoped(() => {
          const want = meta.quantizer_forward as { quantizer_loss?: number; entropy_loss?: number } | undefined;
          if (!want || typeof want.quantizer_loss !== 'number' || typeof want.entropy_loss !== 'number') throw new Error('magvit.json has no quantizer_forward losses');
          const q = lfqForward(model.encoderOutput(tf.tensor4d(input.data, input.shape)), model.config);
          return [
            floatCheck('magvit.quantizer_loss', [q.commit.dataSync()[0]], [want.quantizer_loss], LOSS_TOL),
            floatCheck('magvit.entropy_loss', [q.entropy.dataSync()[0]], [want.entropy_loss], LOSS_TOL),
          ];
        }),
      );
      run('magvit.debug.encoder', () => {
        const out: CheckResult[] = [];
        tf.tidy(() => {
          const [, h, w, c] = input.shape;
          const img0 = tf.tensor4d(input.data.subarray(0, h * w * c), [1, h, w, c]);
          const seen = new Set<string>();
          model.encoderOutput(img0, {
            tap: (module, value) => {
              const key = `debug.img0.${module}`;
              const ref = io.get(key);
              if (!ref) return;
              seen.add(key);
              out.push(floatCheck(`magvit.${key}`, value.dataSync(), nchwToNhwc(ref).data));
            },
          });
          for (const key of io.keys()) if (key.startsWith('debug.img0.encoder.') && !seen.has(key)) out.push({ name: `magvit.${key}`, ok: false, detail: 'module never ran' });
        });
        return out;
      });
    }

    if (refCodes) {
      const [B, N] = refCodes.shape;
      run('magvit.dequantized_latent', () =>
        scoped(() => exactCheck('magvit.dequantized_latent', model.codesToLatent({ data: refCodes.data, batch: B }).dataSync(), nchwToNhwc(need('dequantized_latent')).data)),
      );
      run('magvit.decoded_images', () =>
        scoped(() => floatCheck('magvit.decoded_images', model.decodeCodes({ data: refCodes.data, batch: B }).dataSync(), nchwToNhwc(need('decoded_images')).data)),
      );
      run('magvit.debug.decoder', () => {
        const out: CheckResult[] = [];
        tf.tidy(() => {
          const latent = model.codesToLatent({ data: refCodes.data.subarray(0, N), batch: 1 });
          const seen = new Set<string>();
          model.decodeLatent(latent, {
            tap: (module, value) => {
              const key = `debug.img0.${module}`;
              const ref = io.get(key);
              if (!ref) return;
              seen.add(key);
              out.push(floatCheck(`magvit.${key}`, value.dataSync(), nchwToNhwc(ref).data));
            },
          });
          for (const key of io.keys()) if (key.startsWith('debug.img0.decoder.') && !seen.has(key)) out.push({ name: `magvit.${key}`, ok: false, detail: 'module never ran' });
        });
        return out;
      });
    }

    run('magvit.lfq_embedding', () =>
      scoped(() => {
        const K = model.codebookSize;
        const all = Int32Array.from({ length: K }, (_, i) => i);
        return exactCheck('magvit.lfq_embedding', model.codesToLatent({ data: all, batch: 1 }, [1, K]).dataSync(), need('lfq_embedding').data);
      }),
    );

    run('magvit.pipeline_t2i', () =>
      scoped(() => {
        const codes = need('pipeline_t2i_codes');
        const out: CheckResult[] = [];
        const json = (meta.pipeline_t2i as { codes?: number[][] } | undefined)?.codes;
        if (Array.isArray(json)) out.push(exactCheck('magvit.pipeline_t2i.codes_json', codes.data, json.flat()));
        const decoded = model.decodeCodes({ data: codes.data, batch: codes.shape[0] });
        out.push(floatCheck('magvit.pipeline_t2i.decoded', decoded.dataSync(), nchwToNhwc(need('pipeline_t2i_decoded')).data));
        return out;
      }),
    );
  } finally {
    model.dispose();
  }
  const leaked = tf.memory().numTensors - startTensors;
  if (leaked > 0) results.push({ name: 'magvit.no_tensor_leaks', ok: false, detail: `${leaked} tensors left behind` });
  return results;
}

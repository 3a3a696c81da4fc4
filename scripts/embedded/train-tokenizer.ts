// Trains the embedded MAGVIT-v2 tokenizer (64×64 → 16×16 codes, 8 bits, palette decoder) on Shapes World through the
// trainer's generic loop (`train` from @showo/trainer: AdamW, cosine schedule, clipping, atomic resumable
// checkpoints). Re-running the same command resumes from the newest checkpoint in --dir.
//
//   node --import tsx scripts/embedded/train-tokenizer.ts [--dir runs/tokenizer] [--steps 1200] [--batch 8]
//        [--lr 1.5e-3] [--min-lr 7.5e-5] [--seed 1] [--eval-every 40] [--eval-n 128] [--ckpt-every 20]
//        [--ch 16] [--init WEIGHTS.safetensors] [--workers 1|2] [--accum N] [--focal γ] [--thin-weight w] [--recon-weight w] [--local w] [--local-bits N] [--decoder-only]
//        [--code-noise SHOWO_DIR [--noise-share 0.75] [--noise-max 0.5]]
//        [--new-decoder CH:B0,B1,B2 --init WEIGHTS.safetensors]
//        [--adversarial W [--disc-channels 32,64,64] [--disc-weight 1] [--lecam 0.001] [--disc-start N]]
//        [--code-targets PATCH_CODEBOOK.json --train encoder|decoder [--bits 11] [--enc-mult 1,2,8]]
//
// --code-targets trains half of a tokenizer towards a patch codebook's exact codes (make-patch-codebook.ts):
// `--train encoder` fits the encoder's latent signs to them (`magvitEncoderLoss`; evaluation: the share of codes,
// and of whole images, equal to the codebook's), `--train decoder` renders the codebook's codes (evaluation: the
// tokenizer gate on decoded codebook codes). The two halves train independently, on one core each if need be, and
// merge-tokenizer.ts joins them. --bits sets the code width of a fresh tokenizer (the codebook's).
//
// --adversarial adds MAGVIT-v2's adversarial term with generator weight W (0.1 in MAGVIT-v2): a patch
// discriminator trained in the same steps on one-hot decodings (palette decoders), LeCAM-regularised; it starts
// after --disc-start micro-batches. The discriminator's gradient is clipped as a group of its own (`clipGroups`). Its weights and anchors are checkpointed with the run (one engine only).
//
// --new-decoder (implies --decoder-only): keeps --init's encoder and quantiser (so its codes, and every Show-o
// trained on them, stay valid) and trains a freshly initialised decoder of the given width and ResNet blocks per
// level, e.g. `32:1,1,2`.
//
// --code-noise (with --decoder-only): the decoder reads codes that a trained Show-o has partly re-sampled, and learns
// to render the original scene from them (see code-noise.ts); the gate log adds the agreement on such codes.
//
// --init starts from existing tokenizer weights (a fresh optimiser and schedule), e.g. to continue the shipped
// tokenizer with a larger batch; the config then comes from that file.
//
// Every --eval-every steps the tokenizer gate runs on --eval-n fresh scenes (held-out compositions allowed) and the
// tokenizer is saved as <dir>/latest.safetensors, and as <dir>/best.safetensors when the gate score improved.
// Scores go to <dir>/gate.jsonl; training events to <dir>/metrics.jsonl.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, SeededRandom } from '@showo/runtime';
import { randomScene, renderScene, sampleT2i } from '@showo/shapes-world';
import { MagvitTokenizer, PatchDiscriminator, deepenDecoder, loadMagvit, saveMagvit, type MagvitConfig } from '@showo/tokenizer-magvit';
import { AdamW, ShapesWorldImageData, magvitTask, train } from '@showo/trainer';
import { NoisyCodeData, ShowoCodeNoise, noisyGate } from './code-noise.js';
import { appendJsonl, arg, embeddedMagvitConfig, flag, log, objectKey, scenesToTensor, tensorToBytes, tokenizerGate } from './common.js';
import { PatchCodeImageData, PatchMosaicData, loadPatchCodebook } from './patch-codes.js';

const DIR = path.resolve(arg('dir', 'runs/tokenizer'));
const STEPS = Number(arg('steps', '1200'));
const BATCH = Number(arg('batch', '8'));
const LR = Number(arg('lr', '1.5e-3'));
const MIN_LR = Number(arg('min-lr', '7.5e-5'));
const SEED = Number(arg('seed', '1'));
const EVAL_EVERY = Number(arg('eval-every', '40'));
const EVAL_N = Number(arg('eval-n', '128'));
const CKPT_EVERY = Number(arg('ckpt-every', '20'));
const CH = Number(arg('ch', '16'));
const EDGE = Number(arg('edge-weight', '5'));
const FOCAL = Number(arg('focal', '0'));
/** Palette tokenizers: weight of one-pixel extremes (pixels with ≤ 1 same-colour 4-neighbour), 1 = off. */
const THIN = Number(arg('thin-weight', '1'));
/** Weight of the reconstruction term (a focal loss is several times smaller than plain cross-entropy). */
const RECON_W = Number(arg('recon-weight', '1'));
/** 2: micro-batches pairwise on both cores (a DualEngine worker); use with --accum 2 (and half the --batch). */
const WORKERS = Number(arg('workers', '1')) as 1 | 2;
const ACCUM = Number(arg('accum', '1'));
/** Weight of the local-code term (each patch predicted from its own code; makes codes colour-pure); 0 = off. */
const LOCAL = Number(arg('local', '0'));
/** The local-code head reads only the first N code bits (0: all), forcing those bits to name the patch's colour. */
const LOCAL_BITS = Number(arg('local-bits', '0'));
/** Train only the decoder: codes stay exactly as they are (a Show-o trained on them stays valid). */
const NEW_DECODER = arg('new-decoder', '');
// --grow-decoder 2,1,0: --init's tokenizer with that many identity-initialised ResNet blocks added per decoder level
// (level 0 = full resolution); codes and reconstructions are unchanged at step 0, and the decoder trains alone.
const GROW_DECODER = arg('grow-decoder', '');
/** Generator weight of the adversarial term; 0: no discriminator. */
const ADVERSARIAL = Number(arg('adversarial', '0'));
const DECODER_ONLY = flag('decoder-only') || NEW_DECODER !== '' || GROW_DECODER !== '';
/** With --decoder-only: a Show-o folder whose one-step samples corrupt the codes the decoder reads (code-noise.ts). */
const CODE_NOISE = arg('code-noise', '');
const CODE_TARGETS = arg('code-targets', '');
const TRAIN_PART = arg('train', DECODER_ONLY ? 'decoder' : 'all') as 'all' | 'decoder' | 'encoder';
const BITS = Number(arg('bits', '8'));
// Share of training images that are mosaics of random codebook patches (--code-targets, either half): the decoder
// learns every (colour, mask) pair's picture, the encoder every pair's code, held-out compositions' edges included.
const MOSAIC = Number(arg('mosaic', '0'));
// Share of rendered scenes recoloured in blocks of patches (PatchMosaicData.patchwork): held-out colour–outline
// pairs in whole-object context, for the encoder's compositional generalisation.
const PATCHWORK = Number(arg('patchwork', '0'));
/** Encoder width multipliers of a fresh tokenizer (e.g. 1,2,8: a wide 16×16 level that can tell hundreds of patch masks apart). */
const ENC_MULT = arg('enc-mult', '');
/** Share of images with corrupted codes, and the most of an object's neighbourhood re-sampled in one image. */
const NOISE_SHARE = Number(arg('noise-share', '0.75'));
const NOISE_MAX = Number(arg('noise-max', '0.5'));

async function main(): Promise<void> {
  await initBackend(arg('backend', 'wasm'), { log });
  fs.mkdirSync(DIR, { recursive: true });
  const INIT = arg('init', '');
  const model = NEW_DECODER
    ? withNewDecoder(INIT, NEW_DECODER)
    : GROW_DECODER
      ? grownDecoder(INIT, GROW_DECODER)
      : INIT
        ? loadMagvit(path.resolve(INIT))
        : MagvitTokenizer.create(withEncoderMult(embeddedMagvitConfig(CH, BITS), ENC_MULT), { seed: SEED });
  log(`tokenizer: ${model.parameterCount()} parameters, ${JSON.stringify({ STEPS, BATCH, LR, MIN_LR, SEED, CH, EDGE, FOCAL, THIN, LOCAL, LOCAL_BITS, DECODER_ONLY, INIT, WORKERS, ACCUM })}`);
  if (CODE_NOISE && !DECODER_ONLY) throw new Error('--code-noise trains the decoder only: add --decoder-only');
  const noise = CODE_NOISE ? await ShowoCodeNoise.load(CODE_NOISE, model) : undefined;
  const codebook = CODE_TARGETS ? loadPatchCodebook(path.resolve(CODE_TARGETS)) : undefined;
  if (codebook && TRAIN_PART === 'all') throw new Error('--code-targets trains one half: add --train encoder or --train decoder');
  if (codebook && codebook.codebookDim !== model.config.codebookDim) throw new Error(`the codebook has ${codebook.codebookDim}-bit codes, the tokenizer ${model.config.codebookDim} (--bits)`);
  if (TRAIN_PART === 'encoder' && !codebook) throw new Error('--train encoder needs --code-targets');
  if ((MOSAIC > 0 || PATCHWORK > 0) && (!codebook || TRAIN_PART === 'all')) throw new Error('--mosaic and --patchwork need --code-targets and --train encoder or decoder');
  const data = noise
    ? new NoisyCodeData(noise, model, { seed: SEED + 1000, batch: BATCH, howtoWeight: 0.2, share: NOISE_SHARE, maxRate: NOISE_MAX })
    : codebook && (MOSAIC > 0 || PATCHWORK > 0)
      ? new PatchMosaicData(codebook, { seed: SEED + 1000, batch: BATCH, howtoWeight: 0.2, mosaicShare: MOSAIC, patchworkShare: PATCHWORK })
      : codebook
      ? new PatchCodeImageData(codebook, { seed: SEED + 1000, batch: BATCH, howtoWeight: 0.2 })
      : new ShapesWorldImageData({ seed: SEED + 1000, batch: BATCH, howtoWeight: 0.2 });
  const noisyEvalRng = new SeededRandom(SEED + 999);
  const noisyEvalItems = Array.from({ length: 96 }, () => sampleT2i(noisyEvalRng));
  const evalRng = new SeededRandom(SEED + 7777);
  const evalScenes = Array.from({ length: EVAL_N }, () => randomScene(evalRng, { allowHeldOut: true }));
  const gateLog = path.join(DIR, 'gate.jsonl');
  let best = -1;
  if (fs.existsSync(gateLog)) {
    for (const l of fs.readFileSync(gateLog, 'utf8').split('\n').filter(Boolean)) {
      const r = JSON.parse(l) as { agreement?: number; codeAccuracy?: number };
      best = Math.max(best, r.agreement ?? r.codeAccuracy ?? -1);
    }
  }
  const t0 = Date.now();
  const optimizer = new AdamW({ weightDecay: 0.01 });
  const ac = new AbortController();
  process.on('SIGTERM', () => ac.abort());
  process.on('SIGINT', () => ac.abort());
  let lastLog = 0;
  const discriminator =
    ADVERSARIAL > 0
      ? new PatchDiscriminator({ inChannels: model.config.outputMode === 'palette' ? model.config.palette!.length : 3, channels: arg('disc-channels', '32,64,64').split(',').map(Number) }, SEED)
      : undefined;
  const adversarial = discriminator
    ? {
        adversarial: {
          discriminator,
          generatorWeight: ADVERSARIAL,
          discriminatorWeight: Number(arg('disc-weight', '1')),
          lecamWeight: Number(arg('lecam', '0.001')),
          startAfter: Number(arg('disc-start', '0')),
        },
      }
    : {};
  // Runs on code targets: the encoder is scored by how many of the codebook's codes it reproduces, the decoder by
  // the tokenizer gate on the codebook's codes.
  const targetCodes = codebook ? evalScenes.map((sc) => codebook.encode({ width: 64, height: 64, data: renderScene(sc) })) : [];
  const evaluateOnCodes = (step: number): Record<string, number> => {
    const te = Date.now();
    let score: number;
    let row: Record<string, number>;
    if (TRAIN_PART === 'encoder') {
      const x = scenesToTensor(evalScenes);
      const codes = model.encodeToCodes(x);
      const got = codes.dataSync();
      tf.dispose([x, codes]);
      let right = 0;
      let whole = 0;
      targetCodes.forEach((t, b) => {
        let r = 0;
        t.forEach((c, i) => (r += got[b * t.length + i] === c ? 1 : 0));
        right += r;
        if (r === t.length) whole++;
      });
      // Whole images stay at 0 long after most codes are right: the share of right codes decides the best.
      score = right / (targetCodes.length * 256);
      row = { codeAccuracy: score, imagesExact: whole / evalScenes.length };
    } else {
      const y = model.decodeCodes(targetCodes.map((c) => Array.from(c)), [16, 16]);
      const decoded = tensorToBytes(y);
      y.dispose();
      let agree = 0;
      evalScenes.forEach((sc, b) => (agree += objectKey(renderScene(sc)) === objectKey(decoded[b]!) ? 1 : 0));
      score = agree / evalScenes.length;
      row = { agreement: score };
    }
    saveMagvit(model, path.join(DIR, 'latest.safetensors'), { step: String(step) });
    const improved = score > best;
    if (improved) {
      best = score;
      saveMagvit(model, path.join(DIR, 'best.safetensors'), { step: String(step), score: String(score) });
    }
    appendJsonl(gateLog, { step, ...row, wallS: (Date.now() - t0) / 1000, time: new Date().toISOString() });
    log(`eval step ${step}: ${Object.entries(row).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' ')}${improved ? ' (best)' : ''} [${((Date.now() - te) / 1000).toFixed(1)} s]`);
    return row;
  };
  const run = train({
    ...(discriminator ? { state: { discriminator } } : {}),
    model: magvitTask(model, { edgeWeight: EDGE, reconWeight: RECON_W, ...(THIN !== 1 ? { thinWeight: THIN } : {}), ...(FOCAL > 0 ? { focalGamma: FOCAL } : {}), ...adversarial }, { ...(LOCAL > 0 ? { localCode: { weight: LOCAL, seed: SEED, ...(LOCAL_BITS > 0 ? { bits: LOCAL_BITS } : {}) } } : {}), ...(TRAIN_PART !== 'all' ? { train: TRAIN_PART } : {}) }),
    data,
    optimizer,
    disposeOptimizer: true,
    schedule: { kind: 'cosine', lr: LR, minLr: MIN_LR, warmupSteps: 10, totalSteps: STEPS },
    totalSteps: STEPS,
    gradAccumSteps: ACCUM,
    workers: WORKERS,
    clipGradNorm: 1.0,
    // The discriminator is clipped apart, so its gradient cannot shrink the decoder's step.
    ...(discriminator ? { clipGroups: ['discriminator.'] } : {}),
    checkpoint: { dir: path.join(DIR, 'ckpt'), everySteps: CKPT_EVERY, keepLast: 2, resume: true, fingerprint: `magvit-embedded-ch${model.config.encoder.ch}${TRAIN_PART !== 'all' ? `-${TRAIN_PART}` : ''}${codebook ? `-codes${model.config.codebookDim}` : ''}${discriminator ? '-adv' : ''}${NEW_DECODER ? `-dec${NEW_DECODER}` : ''}${GROW_DECODER ? `-grow${GROW_DECODER}` : ''}${noise ? '-noisy' : ''}` },
    metricsLog: path.join(DIR, 'metrics.jsonl'),
    lossCurve: path.join(DIR, 'loss.png'),
    signal: ac.signal,
    evaluate: {
      everySteps: EVAL_EVERY,
      run: (step) => {
        const te = Date.now();
        if (codebook) return evaluateOnCodes(step);
        const g = tokenizerGate(model, evalScenes);
        const noisy = noise ? noisyGate(model, noise, noisyEvalItems, NOISE_MAX / 2) : undefined;
        saveMagvit(model, path.join(DIR, 'latest.safetensors'), { step: String(step) });
        const improved = g.agreement > best;
        if (improved) {
          best = g.agreement;
          saveMagvit(model, path.join(DIR, 'best.safetensors'), { step: String(step), agreement: String(g.agreement) });
        }
        appendJsonl(gateLog, { step, agreement: g.agreement, ...(noisy !== undefined ? { noisyAgreement: noisy } : {}), psnr: g.psnr, exact: g.exact, codesUsed: g.codesUsed, purePixelShare: g.purePixelShare, wallS: (Date.now() - t0) / 1000, time: new Date().toISOString() });
        log(`gate step ${step}: agreement ${g.agreement.toFixed(3)} psnr ${g.psnr.toFixed(2)} exact ${g.exact.toFixed(3)} codes ${g.codesUsed} pure ${g.purePixelShare.toFixed(3)}${noisy !== undefined ? ` noisy-codes agreement ${noisy.toFixed(3)}` : ''}${improved ? ' (best)' : ''} [${((Date.now() - te) / 1000).toFixed(1)} s]`);
        if (g.failures.length) log(`  e.g. ${g.failures.slice(0, 3).map((f) => `${f.original} -> ${f.decoded}`).join(' ; ')}`);
        return { agreement: g.agreement, psnr: g.psnr };
      },
    },
  });
  await new Promise<void>((resolve, reject) =>
    run.subscribe({
      next: (e) => {
        if (e.type === 'start') log(`start at step ${e.step}/${e.totalSteps}${e.resumedFrom ? ` (resumed from ${e.resumedFrom})` : ''}, ${e.parameters} parameters`);
        else if (e.type === 'step') {
          if (e.step - lastLog >= 10 || e.step <= 3) {
            lastLog = e.step;
            const p = e.parts;
            log(`step ${e.step} loss ${e.loss.toFixed(4)} ${Object.entries(p).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' ')}${data instanceof NoisyCodeData ? ` noised ${data.lastChanged} codes` : ''} lr ${e.lr.toExponential(2)} gn ${e.gradNorm.toFixed(2)} ${e.stepMs.toFixed(0)} ms/step, eta ${(e.etaMs / 60000).toFixed(1)} min, mem ${(tf.memory().numBytes / 2 ** 20).toFixed(0)} MB`);
          }
        } else if (e.type === 'checkpoint') log(`checkpoint ${e.path}`);
        else if (e.type === 'done') log(`done: ${e.reason} at step ${e.step}`);
      },
      error: reject,
      complete: resolve,
    }),
  );
}

function withEncoderMult(config: MagvitConfig, spec: string): MagvitConfig {
  if (!spec) return config;
  const chMult = spec.split(',').map(Number);
  if (chMult.length !== config.encoder.chMult.length) throw new Error(`--enc-mult: ${config.encoder.chMult.length} levels, got ${chMult.length}`);
  return { ...config, encoder: { ...config.encoder, chMult } };
}

/** --init's encoder and quantiser with a fresh decoder of width `ch` and `blocks` ResNet blocks per level. */
function withNewDecoder(init: string, spec: string): MagvitTokenizer {
  const m = /^(\d+):(\d+(?:,\d+)*)$/.exec(spec);
  if (!init || !m) throw new Error('--new-decoder CH:B0,B1,… needs --init WEIGHTS.safetensors');
  const old = loadMagvit(path.resolve(init));
  const blocks = m[2].split(',').map(Number);
  if (blocks.length !== old.config.decoder.chMult.length) throw new Error(`--new-decoder: ${old.config.decoder.chMult.length} levels, got ${blocks.length} block counts`);
  const config = { ...old.config, decoder: { ...old.config.decoder, ch: Number(m[1]), numResBlocks: blocks } };
  const fresh = MagvitTokenizer.create(config, { seed: SEED });
  const kept = fresh.namedVariables();
  let copied = 0;
  for (const [name, v] of old.namedVariables()) {
    if (name.startsWith('decoder.')) continue;
    kept.get(name)!.assign(v);
    copied++;
  }
  old.dispose();
  log(`new decoder ch ${m[1]} blocks [${blocks.join(', ')}]; ${copied} encoder / quantiser tensors kept from ${init}`);
  return fresh;
}

function grownDecoder(init: string, spec: string): MagvitTokenizer {
  if (!init || !/^\d+(,\d+)*$/.test(spec)) throw new Error('--grow-decoder B0,B1,… needs --init WEIGHTS.safetensors');
  const old = loadMagvit(path.resolve(init));
  const grown = deepenDecoder(old, spec.split(',').map(Number), { seed: SEED });
  old.dispose();
  log(`decoder grown by [${spec}] blocks: ch_mult [${grown.config.decoder.chMult.join(', ')}], blocks [${grown.config.decoder.numResBlocks.join(', ')}]`);
  return grown;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

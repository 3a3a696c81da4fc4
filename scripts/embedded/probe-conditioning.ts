// Does a Show-o's image prediction use its caption? Tokenizes fresh single-object scenes, masks a share of their
// image tokens, and compares the cross-entropy of the masked codes when the prompt is the scene's own caption,
// another scene's caption, or the empty (unconditional) prompt. A model that reads its captions predicts object
// codes far better with the right caption at high masking rates (the colour alone is worth up to log 6 ≈ 1.8 nats);
// one that ignores them scores the three prompts alike, and MaskGIT then draws backgrounds. Two more prompts swap
// only the caption's shape word (or colour word): the gap to the own caption is what the model has learnt of it.
//
//   node --import tsx scripts/embedded/probe-conditioning.ts [--model models/shapes-world/showo]
//        [--magvit models/shapes-world/magvit/model.safetensors] [--n 32] [--rates 1,0.9,0.5] [--json out.json]
//   A rate of −1 masks each object's bounding box (grown by one patch) instead of a random share.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createAttentionMaskPredictNext } from '@showo/omni-attention';
import { initBackend, SeededRandom } from '@showo/runtime';
import { renderScene, sampleT2i } from '@showo/shapes-world';
import { ShowoModel } from '@showo/showo-core';
import { loadMagvit } from '@showo/tokenizer-magvit';
import { magvitImageEncoder, maskTokenIds } from '@showo/trainer';
import { arg, log } from './common.js';
import { embeddedSetup } from './showo-common.js';

/**
 * own: the scene's caption; other: another scene's; empty: none; shape / colour: the own caption with only its shape
 * (colour) word swapped for another — what the model has learnt of that one attribute.
 */
type PromptKind = 'own' | 'other' | 'empty' | 'shape' | 'colour';
const SHAPE_WORDS = ['circle', 'square', 'triangle'];
const COLOUR_WORDS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange'];

/** The caption with its first word from `words` replaced by the next one in `words`. */
function swapWord(caption: string, words: readonly string[]): string {
  const parts = caption.split(' ');
  const i = parts.findIndex((w) => words.includes(w));
  if (i < 0) return caption;
  parts[i] = words[(words.indexOf(parts[i]!) + 1) % words.length]!;
  return parts.join(' ');
}

/**
 * Masks the codes whose patch meets an object's bounding box grown by one patch (rate −1 on the command line): the
 * background around tells where the object is, so only the caption can say what it is — MaskGIT's last steps.
 */
function objectBoxMask(objects: readonly { cx: number; cy: number; size: string }[], n: number): boolean[] {
  const side = Math.round(Math.sqrt(n));
  const patch = 64 / side;
  const out = new Array<boolean>(n).fill(false);
  for (const o of objects) {
    const half = (o.size === 'large' ? 20 : 12) / 2;
    const lo = (v: number) => Math.max(0, Math.floor((v - half) / patch) - 1);
    const hi = (v: number) => Math.min(side - 1, Math.floor((v + half) / patch) + 1);
    for (let y = lo(o.cy); y <= hi(o.cy); y++) for (let x = lo(o.cx); x <= hi(o.cx); x++) out[y * side + x] = true;
  }
  return out;
}

interface ProbeRow {
  rate: number;
  prompt: PromptKind;
  /** Mean cross-entropy (nats) of every masked code. */
  ce: number;
  /** Mean cross-entropy of the masked codes that are not the background code. */
  ceObject: number;
  /** Mean probability given to the background code at masked positions. */
  pBackground: number;
}

async function main(): Promise<void> {
  await initBackend(arg('backend', 'wasm'));
  const model = await ShowoModel.load(path.resolve(arg('model', 'models/shapes-world/showo')));
  const magvit = loadMagvit(path.resolve(arg('magvit', 'models/shapes-world/magvit/model.safetensors')));
  const setup = embeddedSetup(model.config.codebook_size);
  const layout = setup.layout;
  const N = setup.prompting.numVqTokens;
  const K = layout.codebookSize;
  const n = Number(arg('n', '32'));
  const rng = new SeededRandom(Number(arg('seed', '5')));
  const samples = Array.from({ length: n }, () => sampleT2i(rng, { captionWeights: { single: 1 } }));
  const codes = await magvitImageEncoder(magvit).encode(samples.map((s) => renderScene(s.scene)), 64);
  const counts = new Map<number, number>();
  for (const c of codes) for (const v of c) counts.set(v, (counts.get(v) ?? 0) + 1);
  const background = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
  const ids = maskTokenIds(setup.prompting);

  function probe(rate: number, prompt: PromptKind): ProbeRow {
    const maskRng = new SeededRandom(17);
    const imageIds: number[][] = [];
    const labels: number[][] = [];
    codes.forEach((c, b) => {
      const masked = rate < 0 ? objectBoxMask(samples[b]!.scene.objects, c.length) : Array.from(c, () => maskRng.next() < rate);
      imageIds.push(Array.from(c, (v, i) => (masked[i] ? layout.maskId : layout.codeToId(v))));
      labels.push(Array.from(c, (v, i) => (masked[i] ? v : -1)));
    });
    const texts = samples.map((s, i) =>
      prompt === 'own' ? s.caption
      : prompt === 'other' ? samples[(i + 7) % n].caption
      : prompt === 'shape' ? swapWord(s.caption, SHAPE_WORDS)
      : prompt === 'colour' ? swapWord(s.caption, COLOUR_WORDS)
      : '',
    );
    const p = setup.prompting.t2i({ texts, imageIds, labels: imageIds.map((r) => r.map(() => -100)), condDropoutProb: 0 });
    const T = p.inputIds[0].length;
    const allow = createAttentionMaskPredictNext(p.inputIds, ids, { rmPadInImage: true });
    const logp = tf.tidy(() => {
      const logits = model.forward(tf.tensor2d(p.inputIds.flatMap((r) => Array.from(r)), [n, T], 'int32'), allow);
      // Image tokens sit just before <|eoi|>; their logits are read unshifted, as the t2i loss does.
      return tf.logSoftmax(logits.slice([0, T - N - 1, layout.imageOffset], [n, N, K])).dataSync() as Float32Array;
    });
    let ce = 0, count = 0, ceObject = 0, countObject = 0, pBackground = 0;
    labels.forEach((row, b) =>
      row.forEach((code, i) => {
        if (code < 0) return;
        const base = (b * N + i) * K;
        ce -= logp[base + code];
        count++;
        pBackground += Math.exp(logp[base + background]);
        if (code !== background) {
          ceObject -= logp[base + code];
          countObject++;
        }
      }),
    );
    return { rate, prompt, ce: ce / count, ceObject: ceObject / Math.max(1, countObject), pBackground: pBackground / count };
  }

  const rows: ProbeRow[] = [];
  for (const rate of arg('rates', '1,0.9,0.5').split(',').map(Number)) for (const prompt of ['own', 'other', 'empty', 'shape', 'colour'] as const) rows.push(probe(rate, prompt));
  console.log('| masked | prompt | CE all | CE object codes | p(background) |\n|---:|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.rate} | ${r.prompt} | ${r.ce.toFixed(3)} | ${r.ceObject.toFixed(3)} | ${r.pBackground.toFixed(3)} |`);
  const gap = (rate: number, versus: PromptKind) => {
    const own = rows.find((r) => r.rate === rate && r.prompt === 'own')!;
    const other = rows.find((r) => r.rate === rate && r.prompt === versus)!;
    return other.ceObject - own.ceObject;
  };
  const top = rows[0].rate;
  log(`gain on object codes at masking ${top}: caption ${gap(top, 'other').toFixed(3)} nats, shape word ${gap(top, 'shape').toFixed(3)}, colour word ${gap(top, 'colour').toFixed(3)}`);
  const out = arg('json', '');
  if (out) fs.writeFileSync(out, JSON.stringify({ background, rows }, null, 2));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

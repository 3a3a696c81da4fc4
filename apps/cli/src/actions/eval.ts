import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { ShowoError } from '@showo/runtime';
import {
  CANVAS_SIZE,
  evaluateHowto,
  evaluateMmu,
  evaluateT2i,
  formatAccuracyTable,
  formatFailureTable,
  parseHowtoJsonl,
  parseMmuJsonl,
  parseT2iJsonl,
  type Accuracy,
  type FailureCounts,
  type HowtoItem,
  type MmuItem,
  type T2iItem,
} from '@showo/shapes-world';
import type { RgbImage } from '@showo/sampler';
import { writePngFile, type Showo } from '@showo/showo';
import type { EvalFlags } from '../commands/eval.js';
import { samplingRequest, type CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { imageFileName, parseAnswersJsonl, readImageFile, readJsonlFile, requireDir, writeJsonlFile } from '../io.js';
import { openShowo } from '../model.js';
import { ProgressBar } from '../progress.js';
import { answerItems } from './mmu.js';
import { generateItems } from './t2i.js';

/**
 * Pixels on the SPEC canvas: 64×64 images as they are; larger square images (a model of another resolution)
 * sampled down by nearest neighbour, which keeps every pixel one flat colour for the detector.
 */
function toCanvas(img: RgbImage): Uint8Array | undefined {
  if (img.width !== img.height) return undefined;
  const data = img.data instanceof Uint8Array ? img.data : Uint8Array.from(img.data);
  if (img.width === CANVAS_SIZE) return data;
  const out = new Uint8Array(CANVAS_SIZE * CANVAS_SIZE * 3);
  for (let y = 0; y < CANVAS_SIZE; y++) {
    const sy = Math.floor(((y + 0.5) * img.height) / CANVAS_SIZE);
    for (let x = 0; x < CANVAS_SIZE; x++) {
      const sx = Math.floor(((x + 0.5) * img.width) / CANVAS_SIZE);
      out.set(data.subarray((sy * img.width + sx) * 3, (sy * img.width + sx) * 3 + 3), (y * CANVAS_SIZE + x) * 3);
    }
  }
  return out;
}

/** An image of the outputs folder, or undefined when missing (scored as `no output`); bad files are reported. */
async function outputImage(ctx: CliContext, file: string): Promise<Uint8Array | undefined> {
  if (!fs.existsSync(file)) return undefined;
  try {
    const img = await readImageFile(file);
    const canvas = toCanvas(img);
    if (!canvas) ctx.problem(`${file}: ${img.width}×${img.height} is not a square image; scored as no output`);
    return canvas;
  } catch (e) {
    ctx.problem(`${(e as Error).message}; scored as no output`);
    return undefined;
  }
}

const pct = (a: Accuracy) => `${a.passed}/${a.total} (${(a.accuracy * 100).toFixed(1)}%)`;

function printTables(ctx: CliContext, title: string, header: string, rows: Readonly<Record<string, Accuracy>>, overall: Accuracy, failures: FailureCounts): void {
  ctx.out(`\n${title}: ${pct(overall)}\n`);
  ctx.out(formatAccuracyTable(header, rows, overall));
  if (Object.keys(failures).length) ctx.out('\n' + formatFailureTable(failures));
}

/** The action of `showo eval` (see `commands/eval.ts`). */
export async function evaluate(ctx: CliContext, cmd: Command, flags: EvalFlags): Promise<void> {
  if (!flags.t2i && !flags.mmu && !flags.howto) throw new UsageError('give at least one of --t2i FILE, --mmu FILE, --howto FILE', cmd);
  if (flags.images && !flags.t2i) throw new UsageError('--images goes with --t2i FILE', cmd);
  if (flags.answers && !flags.mmu) throw new UsageError('--answers goes with --mmu FILE', cmd);
  if (flags.keyframes && !flags.howto) throw new UsageError('--keyframes goes with --howto FILE', cmd);
  const limit = <T>(items: T[]) => (flags.limit !== undefined ? items.slice(0, flags.limit) : items);

  // Every input is read first, so a bad path fails before any model is loaded.
  const t2iItems: T2iItem[] = flags.t2i ? limit(readJsonlFile(ctx, flags.t2i, parseT2iJsonl, 't2i file')) : [];
  const mmuItems: MmuItem[] = flags.mmu ? limit(readJsonlFile(ctx, flags.mmu, parseMmuJsonl, 'mmu file')) : [];
  const howtoItems: HowtoItem[] = flags.howto ? limit(readJsonlFile(ctx, flags.howto, parseHowtoJsonl, 'how-to file')) : [];
  if (flags.images) requireDir(flags.images, 'images folder');
  if (flags.keyframes) requireDir(flags.keyframes, 'keyframes folder');
  const givenAnswers = flags.answers ? new Map(readJsonlFile(ctx, flags.answers, parseAnswersJsonl, 'answers file').map((a) => [a.id, a.answer])) : undefined;

  const needsModel = (flags.t2i && !flags.images) || (flags.mmu && !givenAnswers) || (flags.howto && !flags.keyframes);
  let showo: Showo | undefined;
  const report: Record<string, unknown> = {};
  try {
    if (needsModel) showo = await openShowo(ctx, flags);

    if (flags.t2i) {
      const images = new Map<string, Uint8Array>();
      if (flags.images) {
        for (const item of t2iItems) {
          const img = await outputImage(ctx, path.join(flags.images, imageFileName(item.id)));
          if (img) images.set(item.id, img);
        }
      } else {
        await generateItems(ctx, showo!, t2iItems, flags, (id, img) => {
          const canvas = toCanvas(img);
          if (canvas) images.set(id, canvas);
          if (flags.save) writePngFile(path.join(flags.save, 't2i', imageFileName(id)), img);
        });
      }
      const r = evaluateT2i(t2iItems, images);
      report.t2i = { file: flags.t2i, overall: r.overall, byTag: r.byTag, failures: r.failures, items: r.items.map(({ id, tag, pass, failure }) => ({ id, tag, pass, ...(failure ? { failure } : {}) })) };
      if (!flags.json) printTables(ctx, `t2i ${flags.t2i}`, 'tag', r.byTag, r.overall, r.failures);
      if (flags.minAccuracy !== undefined && r.overall.accuracy < flags.minAccuracy) ctx.fail();
    }

    if (flags.mmu) {
      let answers = givenAnswers;
      if (!answers) {
        answers = await answerItems(ctx, showo!, mmuItems, { batch: flags.batch, seed: flags.seed, ...(flags.temperature !== undefined ? { temperature: flags.temperature } : {}) });
        if (flags.save) writeJsonlFile(path.join(flags.save, 'answers.jsonl'), mmuItems.filter((i) => answers!.has(i.id)).map((i) => ({ id: i.id, answer: answers!.get(i.id)! })));
      }
      const r = evaluateMmu(mmuItems, answers);
      report.mmu = { file: flags.mmu, overall: r.overall, byKind: r.byKind, failures: r.failures, items: r.items };
      if (!flags.json) printTables(ctx, `mmu ${flags.mmu}`, 'question', r.byKind, r.overall, r.failures);
      if (flags.minAccuracy !== undefined && r.overall.accuracy < flags.minAccuracy) ctx.fail();
    }

    if (flags.howto) {
      const frames = new Map<string, (Uint8Array | undefined)[]>();
      if (flags.keyframes) {
        for (const item of howtoItems) {
          const list: (Uint8Array | undefined)[] = [];
          for (let k = 0; k < item.steps.length; k++) {
            // Either naming: <dir>/<id>-<n>.png (what eval --save writes) or <dir>/<id>/step-<n>.png (howto --guided).
            const flat = path.join(flags.keyframes, imageFileName(item.id, `-${k + 1}`));
            const nested = path.join(flags.keyframes, imageFileName(item.id).slice(0, -'.png'.length), `step-${k + 1}.png`);
            list.push(await outputImage(ctx, fs.existsSync(flat) || !fs.existsSync(nested) ? flat : nested));
          }
          frames.set(item.id, list);
        }
      } else {
        const total = howtoItems.reduce((a, i) => a + i.steps.length, 0);
        const bar = new ProgressBar('howto', total, ctx.io.stderr);
        let done = 0;
        try {
          for (const item of howtoItems) {
            // Over-long text blocks are cut the official way, as training cut them (the trainer is not strict).
            const request = { ...samplingRequest(flags), truncatePrompts: true };
            let result;
            try {
              result = await showo!.howto(item.question, item.steps.map((s) => s.text), request).result((e) => {
                if (e.type === 'keyframe') bar.update(++done, item.id);
              });
            } catch (e) {
              // A sequence the model cannot serve (e.g. past its position budget) scores as no output.
              if (!(e instanceof ShowoError)) throw e;
              ctx.problem(`${item.id}: ${e.message}`);
              continue;
            }
            frames.set(
              item.id,
              result.steps.map((s, k) => {
                if (s.image && flags.save) writePngFile(path.join(flags.save, 'howto', imageFileName(item.id, `-${k + 1}`)), s.image);
                return s.image ? toCanvas(s.image) : undefined;
              }),
            );
          }
        } finally {
          bar.stop();
        }
      }
      const r = evaluateHowto(howtoItems, frames);
      report.howto = {
        file: flags.howto,
        steps: r.steps,
        sequences: r.sequences,
        byLength: r.byLength,
        failures: r.failures,
        items: r.items.map((i) => ({ id: i.id, pass: i.pass, steps: i.steps.map((s) => ({ pass: s.pass, ...(s.failure ? { failure: s.failure } : {}) })) })),
      };
      if (!flags.json) {
        printTables(ctx, `howto ${flags.howto} (sequences)`, 'steps', r.byLength, r.sequences, r.failures);
        ctx.out(`\nkeyframes: ${pct(r.steps)}`);
      }
      if (flags.minAccuracy !== undefined && r.sequences.accuracy < flags.minAccuracy) ctx.fail();
    }
  } finally {
    await showo?.dispose();
  }
  if (flags.json) ctx.out(JSON.stringify(report));
}

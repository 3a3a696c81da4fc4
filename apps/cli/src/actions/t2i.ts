import path from 'node:path';
import type { Command } from 'commander';
import { ShowoError } from '@showo/runtime';
import { parseT2iJsonl, type T2iItem } from '@showo/shapes-world';
import type { RgbImage } from '@showo/sampler';
import { writePngFile, type Showo } from '@showo/showo';
import type { T2iFlags } from '../commands/t2i.js';
import { t2iRequest, type CliContext, type SamplingFlags } from '../context.js';
import { UsageError } from '../errors.js';
import { batches, imageFileName, readJsonlFile } from '../io.js';
import { withShowo } from '../model.js';
import { ProgressBar } from '../progress.js';

/**
 * Generates one image per item (in batches), writing `<dir>/<id>.png`; a progress bar counts MaskGIT steps over
 * all items. Shared by `t2i --prompts` and `eval --t2i` without images.
 */
export async function generateItems(
  ctx: CliContext,
  showo: Showo,
  items: readonly { id: string; prompt: string }[],
  flags: SamplingFlags & { seed?: number; batch: number },
  onImage: (id: string, image: RgbImage) => void,
): Promise<void> {
  const request = t2iRequest(flags);
  const steps = request.steps ?? showo.defaults.t2i.steps;
  const bar = new ProgressBar('t2i', items.length * steps, ctx.io.stderr);
  let done = 0;
  try {
    for (const group of batches(items, flags.batch)) {
      try {
        const images = await showo.t2i(group.map((i) => i.prompt), request).images((e) => {
          if (e.type === 'step') bar.update((done + (e.step + 1) / e.steps) * steps, `${done}/${items.length} images`);
        });
        group.forEach((item, k) => onImage(item.id, images[k]!));
      } catch (e) {
        // A request the model cannot serve (e.g. a prompt over its text budget) fails its batch, not the run.
        if (!(e instanceof ShowoError)) throw e;
        ctx.problem(`${group.map((i) => i.id).join(', ')}: ${e.message}`);
      }
      done += group.length;
      bar.update(done * steps, `${done}/${items.length} images`);
    }
  } finally {
    bar.stop();
  }
}

/** The action of `showo t2i` (see `commands/t2i.ts`). */
export async function t2i(ctx: CliContext, cmd: Command, prompt: string | undefined, flags: T2iFlags): Promise<void> {
  if ((prompt === undefined) === (flags.prompts === undefined)) throw new UsageError('give either a prompt or --prompts FILE', cmd);
  if (prompt !== undefined) {
    const out = flags.out ?? path.join('out', 't2i.png');
    await withShowo(ctx, flags, async (showo) => {
      const request = t2iRequest(flags);
      const bar = new ProgressBar('t2i', request.steps ?? showo.defaults.t2i.steps, ctx.io.stderr);
      try {
        const image = await showo.t2i(prompt, request).image((e) => e.type === 'step' && bar.update(e.step + 1));
        writePngFile(out, image);
      } finally {
        bar.stop();
      }
    });
    ctx.out(`wrote ${out}`);
    return;
  }
  const items: T2iItem[] = readJsonlFile(ctx, flags.prompts!, parseT2iJsonl, 'prompts file');
  const dir = flags.out ?? path.join('out', 't2i');
  if (items.length === 0) {
    ctx.problem(`${flags.prompts}: no prompts to generate`);
    return;
  }
  await withShowo(ctx, flags, (showo) => generateItems(ctx, showo, items, flags, (id, image) => writePngFile(path.join(dir, imageFileName(id)), image)));
  ctx.out(`wrote ${items.length} image(s) to ${dir}`);
}

import path from 'node:path';
import type { Command } from 'commander';
import type { ImageGenerationEvent, RgbImage } from '@showo/sampler';
import { writePngFile, type Box, type ImageStream, type InpaintRegion, type Showo } from '@showo/showo';
import type { EditFlags, ImageEditName } from '../commands/image-edit.js';
import { samplingRequest, type CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { readImageFile } from '../io.js';
import { withShowo } from '../model.js';
import { ProgressBar } from '../progress.js';

/** Runs an image stream with a progress bar over all MaskGIT steps (extrapolation may take several passes). */
async function runWithBar(ctx: CliContext, label: string, stream: ImageStream) {
  let bar: ProgressBar | undefined;
  try {
    return await stream.image((e: ImageGenerationEvent) => {
      if (e.type === 'start') bar = new ProgressBar(label, e.steps * e.passes, ctx.io.stderr);
      else if (e.type === 'step') bar?.update(e.pass * e.steps + e.step + 1);
    });
  } finally {
    bar?.stop();
  }
}

type Flags = EditFlags & Record<string, unknown>;

/** What each image-editing command does: check and read its own inputs (before the model loads), then run. */
const TASKS: Record<ImageEditName, { prepare?: (flags: Flags, cmd: Command) => Promise<void>; run: (showo: Showo, image: RgbImage, prompt: string, flags: Flags) => ImageStream }> = {
  inpaint: {
    prepare: async (flags, cmd) => {
      if ((flags.mask === undefined) === (flags.box === undefined)) throw new UsageError('give exactly one of --mask FILE or --box x,y,w,h', cmd);
      if (flags.mask !== undefined) flags.maskImage = await readImageFile(flags.mask as string, 'mask');
    },
    run: (showo, image, prompt, flags) => {
      const region: InpaintRegion = flags.maskImage !== undefined ? { mask: flags.maskImage as RgbImage } : { box: flags.box as Box };
      return showo.inpaint(image, prompt, region, samplingRequest(flags));
    },
  },
  extrapolate: {
    run: (showo, image, prompt, flags) =>
      showo.extrapolate(image, prompt, {
        direction: flags.direction as 'left' | 'right' | 'up' | 'down',
        amount: (flags.amount as number | undefined) ?? showo.imageSize / 2,
        ...samplingRequest(flags),
      }),
  },
  edit: {
    run: (showo, image, prompt, flags) => showo.edit(image, prompt, { strength: flags.strength as number, ...samplingRequest(flags) }),
  },
};

/** The action of `showo inpaint`, `extrapolate` and `edit` (see `commands/image-edit.ts`). */
export async function imageEdit(ctx: CliContext, cmd: Command, name: ImageEditName, image: string, prompt: string, flags: Flags): Promise<void> {
  const task = TASKS[name];
  // Inputs are read (and a missing or undecodable one reported) before the model loads.
  await task.prepare?.(flags, cmd);
  const pixels = await readImageFile(image);
  const out = flags.out ?? path.join('out', `${name}.png`);
  await withShowo(ctx, flags, async (showo) => writePngFile(out, await runWithBar(ctx, name, task.run(showo, pixels, prompt, flags))));
  ctx.out(`wrote ${out}`);
}

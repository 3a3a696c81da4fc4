import path from 'node:path';
import { Option, InvalidArgumentError as CommanderArgumentError, type Command } from 'commander';
import type { ImageGenerationEvent, RgbImage } from '@showo/sampler';
import { writePngFile, type Box, type ImageStream, type InpaintRegion, type Showo } from '@showo/showo';
import { UsageError, commonOptions, parseFloatStrict, parsers, samplingRequest, type CliContext, type ModelFlags, type SamplingFlags } from '../context.js';
import { readImageFile } from '../io.js';
import { withShowo } from '../model.js';
import { ProgressBar } from '../progress.js';

/** `x,y,w,h` in pixels. */
function parseBox(v: string): Box {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length !== 4 || parts.some((p) => p === '' || !Number.isFinite(Number(p)))) {
    throw new CommanderArgumentError(`--box expects x,y,w,h in pixels, got "${v}"`);
  }
  const [x, y, width, height] = parts.map(Number) as [number, number, number, number];
  if (width <= 0 || height <= 0) throw new CommanderArgumentError(`--box needs a positive width and height, got "${v}"`);
  return { x, y, width, height };
}

function strength(v: string): number {
  const s = parseFloatStrict('--strength', v);
  if (!(s > 0 && s <= 1)) throw new CommanderArgumentError(`--strength expects a number in (0, 1], got ${v}`);
  return s;
}

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

interface EditFlags extends ModelFlags, SamplingFlags {
  out?: string;
}

/** Registers one image-editing command: IMAGE "PROMPT" plus the task's own flags. */
function imageCommand(
  program: Command,
  ctx: CliContext,
  name: string,
  description: string,
  addFlags: (cmd: Command) => Command,
  run: (showo: Showo, image: RgbImage, prompt: string, flags: EditFlags & Record<string, unknown>) => ImageStream,
  prepare: (flags: EditFlags & Record<string, unknown>, cmd: Command) => Promise<void> = async () => undefined,
): void {
  const cmd = addFlags(
    program
      .command(name)
      .description(description)
      .argument('<image>', 'PNG or JPEG image')
      .argument('<prompt>', 'the prompt')
      .option('--out <file>', `output PNG (default out/${name}.png)`),
  );
  commonOptions(cmd).action(async (image: string, prompt: string, flags: EditFlags & Record<string, unknown>) => {
    // Inputs are read (and a missing or undecodable one reported) before the model loads.
    await prepare(flags, cmd);
    const pixels = await readImageFile(image);
    const out = flags.out ?? path.join('out', `${name}.png`);
    await withShowo(ctx, flags, async (showo) => writePngFile(out, await runWithBar(ctx, name, run(showo, pixels, prompt, flags))));
    ctx.out(`wrote ${out}`);
  });
}

/** `inpaint`, `extrapolate` and `edit`. */
export function imageEditCommands(program: Command, ctx: CliContext): void {
  imageCommand(
    program,
    ctx,
    'inpaint',
    'regenerate a region of an image under a prompt (everything else is kept)',
    (c) =>
      c
        .option('--mask <file>', 'mask image of the same size: white = regenerate')
        .option('--box <x,y,w,h>', 'rectangle to regenerate, in pixels', parseBox),
    (showo, image, prompt, flags) => {
      const region: InpaintRegion = flags.maskImage !== undefined ? { mask: flags.maskImage as RgbImage } : { box: flags.box as Box };
      return showo.inpaint(image, prompt, region, samplingRequest(flags));
    },
    async (flags, cmd) => {
      if ((flags.mask === undefined) === (flags.box === undefined)) throw new UsageError('give exactly one of --mask FILE or --box x,y,w,h', cmd);
      if (flags.mask !== undefined) flags.maskImage = await readImageFile(flags.mask as string, 'mask');
    },
  );
  imageCommand(
    program,
    ctx,
    'extrapolate',
    'extend an image beyond one of its borders, guided by a prompt',
    (c) =>
      c
        .addOption(new Option('--direction <side>', 'side to grow').choices(['left', 'right', 'up', 'down']).makeOptionMandatory())
        .option('--amount <pixels>', 'pixels to add (rounded up to whole tokens; default: half the image)', parsers.positiveInt('--amount')),
    (showo, image, prompt, flags) =>
      showo.extrapolate(image, prompt, {
        direction: flags.direction as 'left' | 'right' | 'up' | 'down',
        amount: (flags.amount as number | undefined) ?? showo.imageSize / 2,
        ...samplingRequest(flags),
      }),
  );
  imageCommand(
    program,
    ctx,
    'edit',
    'mask-free editing: regenerate a random share of the image under a new prompt',
    (c) => c.option('--strength <s>', 'share of the image tokens to regenerate, in (0, 1]', strength, 0.5),
    (showo, image, prompt, flags) => showo.edit(image, prompt, { strength: flags.strength as number, ...samplingRequest(flags) }),
  );
}

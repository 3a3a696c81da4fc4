import { Option, InvalidArgumentError as CommanderArgumentError, type Command } from 'commander';
import type { Box } from '@showo/showo';
import { commonOptions, parseFloatStrict, parsers, type CliContext, type ModelFlags, type SamplingFlags } from '../context.js';

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

/** The image-editing commands. */
export type ImageEditName = 'inpaint' | 'extrapolate' | 'edit';

export interface EditFlags extends ModelFlags, SamplingFlags {
  out?: string;
}

/** Registers one image-editing command: IMAGE "PROMPT" plus the task's own flags. */
function imageCommand(program: Command, ctx: CliContext, name: ImageEditName, description: string, addFlags: (cmd: Command) => Command): void {
  const cmd = addFlags(
    program
      .command(name)
      .description(description)
      .argument('<image>', 'PNG or JPEG image')
      .argument('<prompt>', 'the prompt')
      .option('--out <file>', `output PNG (default out/${name}.png)`),
  );
  commonOptions(cmd).action(async (image: string, prompt: string, flags: EditFlags & Record<string, unknown>) => {
    const { imageEdit } = await import('../actions/image-edit.js');
    await imageEdit(ctx, cmd, name, image, prompt, flags);
  });
}

/** `inpaint`, `extrapolate` and `edit`. */
export function imageEditCommands(program: Command, ctx: CliContext): void {
  imageCommand(program, ctx, 'inpaint', 'regenerate a region of an image under a prompt (everything else is kept)', (c) =>
    c
      .option('--mask <file>', 'mask image of the same size: white = regenerate')
      .option('--box <x,y,w,h>', 'rectangle to regenerate, in pixels', parseBox),
  );
  imageCommand(program, ctx, 'extrapolate', 'extend an image beyond one of its borders, guided by a prompt', (c) =>
    c
      .addOption(new Option('--direction <side>', 'side to grow').choices(['left', 'right', 'up', 'down']).makeOptionMandatory())
      .option('--amount <pixels>', 'pixels to add (rounded up to whole tokens; default: half the image)', parsers.positiveInt('--amount')),
  );
  imageCommand(program, ctx, 'edit', 'mask-free editing: regenerate a random share of the image under a new prompt', (c) =>
    c.option('--strength <s>', 'share of the image tokens to regenerate, in (0, 1]', strength, 0.5),
  );
}

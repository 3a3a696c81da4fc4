import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { benchCommand } from './commands/bench.js';
import { conformanceCommand } from './commands/conformance.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { howtoCommand } from './commands/howto.js';
import { imageEditCommands } from './commands/image-edit.js';
import { inspectCommand } from './commands/inspect.js';
import { mmuCommand } from './commands/mmu.js';
import { t2iCommand } from './commands/t2i.js';
import { trainCommand } from './commands/train.js';

/** Registers every sub-command on the program; they report through `ctx`. */
export function registerCommands(program: Command, ctx: CliContext): void {
  t2iCommand(program, ctx);
  mmuCommand(program, ctx);
  imageEditCommands(program, ctx);
  howtoCommand(program, ctx);
  evalCommand(program, ctx);
  demoCommand(program, ctx);
  benchCommand(program, ctx);
  trainCommand(program, ctx);
  conformanceCommand(program, ctx);
  inspectCommand(program, ctx);
}

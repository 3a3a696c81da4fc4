import type { Command } from 'commander';
import { demoCommand } from './commands/demo.js';
import { inspectCommand } from './commands/inspect.js';
import { conformanceCommand } from './commands/conformance.js';

/** Registers every sub-command on the program. */
export function registerCommands(program: Command, common: (c: Command) => Command): void {
  demoCommand(program, common);
  inspectCommand(program);
  conformanceCommand(program);
}

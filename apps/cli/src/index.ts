/** @packageDocumentation
 * The `showo` command-line interface.
 */
export { main, buildProgram } from './main.js';
export type { CliIo } from './context.js';
export { UsageError, CliInputError } from './errors.js';

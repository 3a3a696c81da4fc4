#!/usr/bin/env node
// Entry of the `showo` command. In a source checkout (tsx present, src/ beside us) it runs the TypeScript sources
// directly, so `npx showo` works right after `npm ci`; an installed copy runs the compiled dist/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// A closed pipe (`showo inspect … | head`) is a normal way for output to end.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const here = dirname(fileURLToPath(import.meta.url));
const appRoot = join(here, '..');
const repoRoot = join(appRoot, '..', '..');
const source = join(appRoot, 'src', 'main.ts');
let entry = join(appRoot, 'dist', 'main.js');
if (existsSync(source) && existsSync(join(repoRoot, 'tsconfig.json'))) {
  try {
    const { register } = await import('tsx/esm/api');
    register({ tsconfig: join(repoRoot, 'tsconfig.json') });
    entry = source;
  } catch {
    /* tsx not installed: fall back to the build */
  }
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShowoError } from './errors.js';

/** Raised when the conformance fixtures (`../shared/reference`) cannot be found. */
export class FixturesMissingError extends ShowoError {
  constructor(dir: string) {
    super('FIXTURES_MISSING', `conformance fixtures not found at ${dir} (set SHOWO_REFERENCE to their folder)`);
  }
}

function repoRoot(): string {
  // Walk up from this file until the workspace root (the folder whose package.json has "workspaces").
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, 'utf8')).workspaces) return dir;
      } catch {
        /* not a root package.json */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/** The shared folder beside the repository (`<repo>/../shared`), or `SHOWO_SHARED`. */
export function sharedDir(): string {
  return process.env.SHOWO_SHARED ?? path.resolve(repoRoot(), '..', 'shared');
}

/** The conformance fixture folder: `SHOWO_REFERENCE`, else `<repo>/../shared/reference`. */
export function referenceDir(): string {
  return process.env.SHOWO_REFERENCE ?? path.join(sharedDir(), 'reference');
}

/**
 * For tests: the fixture folder if present. When it is missing, under `CI=true` this throws (a missing fixture
 * must fail CI, never pass silently); elsewhere it returns `undefined` so the caller can skip.
 */
export function requireReferenceDir(): string | undefined {
  const dir = referenceDir();
  if (fs.existsSync(path.join(dir, 'README.md'))) return dir;
  if (process.env.CI === 'true') throw new FixturesMissingError(dir);
  return undefined;
}

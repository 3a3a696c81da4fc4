// Test helpers: the showo-tiny fixtures (read, never copied).
import fs from 'node:fs';
import path from 'node:path';
import { requireReferenceDir } from '@showo/runtime';
import type { MaskTokenIds } from '../src/index.js';

/** The showo-tiny fixture folder, or undefined (the caller skips). */
export function tinyDir(): string | undefined {
  const ref = requireReferenceDir();
  return ref === undefined ? undefined : path.join(ref, 'showo-tiny');
}

export function readFixture(dir: string, name: string): any {
  return JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
}

/** [PAD], <|soi|>, <|eoi|> of showo-tiny's config.json. */
export function tinyIds(dir: string): MaskTokenIds {
  const ids = readFixture(dir, 'config.json').token_ids;
  return { padId: ids['[PAD]'], soiId: ids['<|soi|>'], eoiId: ids['<|eoi|>'] };
}

/** The same ids for synthetic tests (showo-tiny's layout). */
export const IDS: MaskTokenIds = { padId: 200, soiId: 201, eoiId: 202 };

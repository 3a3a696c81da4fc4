// Test helpers: the showo-tiny fixtures (read, never copied) and the layout/prompting they configure.
import fs from 'node:fs';
import path from 'node:path';
import { requireReferenceDir } from '@showo/runtime';
import { TokenLayout, UniversalPrompting } from '../src/index.js';

/** The showo-tiny fixture folder, or undefined (the caller skips). */
export function tinyDir(): string | undefined {
  const ref = requireReferenceDir();
  return ref === undefined ? undefined : path.join(ref, 'showo-tiny');
}

export function readFixture(dir: string, name: string): any {
  return JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
}

/** Layout and prompt builders of showo-tiny's config.json. */
export function tinySetup(dir: string): { config: any; layout: TokenLayout; prompting: UniversalPrompting } {
  const config = readFixture(dir, 'config.json');
  const layout = TokenLayout.fromShowoConfig(config.showo, { bosId: config.token_ids['bos(<|sot|>)'], eosId: config.token_ids['eos(<|eot|>)'] });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: config.showo.max_seq_length, numVqTokens: config.showo.num_vq_tokens });
  return { config, layout, prompting };
}

/** A layout shaped like showo-tiny (text 200, codebook 64, N = 64, MSL 16) for tests without fixtures. */
export function syntheticSetup(options: { strict?: boolean; numVqTokens?: number } = {}): { layout: TokenLayout; prompting: UniversalPrompting } {
  const layout = new TokenLayout({ llmVocabSize: 200, codebookSize: 64, bosId: 199 });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: 16, numVqTokens: options.numVqTokens ?? 4, strict: options.strict ?? false });
  return { layout, prompting };
}

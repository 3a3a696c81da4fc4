/** A tiny random model folder per test process (embedded layout), and an official-layout one built from it. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '@showo/runtime';
import { writeRandomModelBundle } from '@showo/showo';

let ready: Promise<unknown> | undefined;
/** The backend tests run on (`SHOWO_BACKEND`, default wasm). */
export function backend(): Promise<unknown> {
  ready ??= initBackend(process.env.SHOWO_BACKEND ?? 'wasm');
  return ready;
}

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the process exits. */
export function tempDir(prefix = 'showo-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

let bundle: Promise<string> | undefined;
/** The shared random bundle (created once per test file). */
export function tinyBundle(): Promise<string> {
  bundle ??= backend().then(() => writeRandomModelBundle(tempDir('showo-bundle-'), { seed: 3 }));
  return bundle;
}

/** A copy of a folder tree. */
export function copyTree(from: string, to: string): string {
  fs.cpSync(from, to, { recursive: true });
  return to;
}

/** Tokens of a tiny byte-level BPE tokenizer.json (Phi's kind), `<|endoftext|>` last. */
const VOCAB = ['r', 'e', 'd', 'c', 'i', 'l', 'Ġ', 're', 'red', 'Ġc', 'ir', 'Ġcir', 'cl', 'cle', 'Ġcircle'];
const MERGES = ['r e', 're d', 'Ġ c', 'i r', 'Ġc ir', 'c l', 'cl e', 'Ġcir cle'];
export const HF_VOCAB_SIZE = VOCAB.length + 1;

export function hfTokenizerJson(): object {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: VOCAB.length, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: Object.fromEntries(VOCAB.map((t, i) => [t, i])),
      merges: MERGES,
    },
  };
}

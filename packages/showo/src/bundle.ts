/**
 * Model folders ("bundles"): everything a Show-o needs to run — the transformer, its text tokenizer and its image
 * tokenizer — found, checked and described in one place. Two layouts are read:
 *
 * **Embedded** (`models/shapes-world/`, what the project trains):
 * ```
 * showo/config.json         official Show-o fields, "text_tokenizer": {"type": "word", "vocab": "vocab.json"},
 *                           a "showo" block (num_vq_tokens, max_seq_length) and "generation" defaults
 * showo/model.safetensors
 * showo/vocab.json
 * magvit/config.json
 * magvit/model.safetensors
 * ```
 * **Official** (a Hugging Face download): `config.json` + `pytorch_model.safetensors` (or `model.safetensors`), the
 * Phi-1.5 tokenizer (`tokenizer.json`, `tokenizer_config.json`) beside them or in `tokenizer/`, and MAGVIT-v2 in
 * `magvitv2/` (`config.json` + `pytorch_model.safetensors`).
 *
 * {@link resolveModelBundle} reads only configs and the text tokenizer (no tensors, no backend needed), so a
 * broken folder is reported before anything heavy happens; {@link loadModelBundle} also loads the weights.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShowoError } from '@showo/runtime';
import { loadHfTokenizer, loadWordTokenizer, type PromptingConfig, type TextTokenizer, type TokenLayoutOptions } from '@showo/prompting';
import { ShowoModel, WEIGHTS_FILE_NAMES, readShowoConfig, tokenLayoutFor, type LoadOptions, type ShowoConfig } from '@showo/showo-core';
import { downsampleFactor, loadMagvit, readMagvitConfig, type MagvitConfig, type MagvitTokenizer } from '@showo/tokenizer-magvit';
import type { MaskScheduleSpec, TokenGrid } from '@showo/sampler';
import { ModelBundleError } from './errors.js';

/** Which of the two folder layouts a bundle has. */
export type BundleLayout = 'embedded' | 'official';

/** Default settings of a MaskGIT task (what a request gets when it names none). */
export interface MaskGitDefaults {
  steps: number;
  guidanceScale: number;
  temperature: number;
  schedule: MaskScheduleSpec;
  /** Temperature of the code distribution (absent: 1, the official sampler). */
  codeTemperature?: number;
  /** Text-to-image: candidates per prompt, reranked by the model's own caption likelihood (absent: 1). */
  rerank?: number;
}

/** Default settings of understanding (autoregressive answers). */
export interface AnswerDefaults {
  /** Longest answer in tokens; default: the model's `max_seq_length`, cut to what its position budget leaves. */
  maxNewTokens?: number;
  temperature?: number;
  topK?: number;
  greedy?: boolean;
  /** Beam search with this many beams (`generation.answer.num_beams`; absent: one token at a time). */
  numBeams?: number;
  /** Beam search: length normalisation exponent (`generation.answer.length_penalty`). */
  lengthPenalty?: number;
}

/** Per-task defaults of a bundle (`generation` block of the embedded config, official settings otherwise). */
export interface GenerationDefaults {
  t2i: MaskGitDefaults;
  inpaint: MaskGitDefaults;
  extrapolate: MaskGitDefaults;
  edit: MaskGitDefaults;
  howto: MaskGitDefaults;
  answer: AnswerDefaults;
}

/** A checked model folder: where every file is, the parsed configs and the text tokenizer. Holds no tensors. */
export interface ModelBundle {
  /** Absolute folder. */
  readonly dir: string;
  readonly layout: BundleLayout;
  readonly showo: {
    /** Folder `ShowoModel.load` reads (`showo/` or the bundle itself). */
    readonly dir: string;
    readonly configFile: string;
    readonly weightsFile: string;
    readonly config: ShowoConfig;
    /** The config file as read (extra fields such as `generation` included). */
    readonly json: Readonly<Record<string, unknown>>;
  };
  readonly magvit: {
    readonly configFile: string;
    readonly weightsFile: string;
    readonly config: MagvitConfig;
  };
  readonly text: {
    readonly kind: 'word' | 'hf';
    /** The vocabulary file (word) or tokenizer folder (hf). */
    readonly path: string;
    readonly tokenizer: TextTokenizer;
  };
  /** What `promptingModule` builds the token layout from. */
  readonly layoutOptions: TokenLayoutOptions;
  /** What `promptingModule` builds the prompt formats from. */
  readonly prompting: PromptingConfig;
  /** The model's image token grid (square, √N × √N). */
  readonly grid: TokenGrid;
  /** Pixels per token side (the image tokenizer's downsampling factor). */
  readonly patchSize: number;
  /** Pixels per image side the model generates and reads (grid side × patch size). */
  readonly imageSize: number;
  readonly generation: GenerationDefaults;
}

/** Environment variable naming the default model folder. */
export const MODEL_ENV = 'SHOWO_MODEL';

/**
 * The default model folder: `SHOWO_MODEL` when set, else the repository's embedded Shapes World model
 * (`models/shapes-world`, found relative to this package so it works from sources and from `dist/`).
 */
export function defaultModelDir(env: Record<string, string | undefined> = process.env): string {
  const fromEnv = env[MODEL_ENV]?.trim();
  if (fromEnv) return path.resolve(fromEnv);
  // packages/showo/{src,dist}/bundle.* → repository root is three levels up.
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'models', 'shapes-world');
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFile = (f: string): boolean => {
  try {
    return fs.statSync(f).isFile();
  } catch {
    return false;
  }
};
const isDir = (f: string): boolean => {
  try {
    return fs.statSync(f).isDirectory();
  } catch {
    return false;
  }
};

/** Every message of a lower-level error on one line (config errors list their problems on several). */
function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/:\s*\n\s*-?\s*/g, ': ').replace(/\s*\n\s*-?\s*/g, '; ');
}

function firstExisting(dir: string, names: readonly string[]): string | undefined {
  for (const n of names) if (isFile(path.join(dir, n))) return path.join(dir, n);
  return undefined;
}

function readJson(file: string, dir: string): Json {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ModelBundleError('INVALID', dir, `${file}: cannot read it as JSON (${oneLine(e)})`, [], { cause: e });
  }
  if (!isObject(json)) throw new ModelBundleError('INVALID', dir, `${file}: expected a JSON object`);
  return json;
}

function incomplete(dir: string, layout: string, missing: string[]): ModelBundleError {
  return new ModelBundleError('INCOMPLETE', dir, `${dir} is not a complete ${layout} Show-o model folder: missing ${missing.join(', ')}`, missing);
}

// ─────────────────────────────── generation defaults ───────────────────────────────

/**
 * Official settings (see `notes/stack.md`): 256×256 models as `configs/showo_demo.yaml` (18 steps, guidance 1.75),
 * 512×512 models as the official demo (50 steps, guidance 5); inpainting and extrapolation 16 steps at 1.75;
 * understanding greedy (top-k 1).
 */
function officialDefaults(numVqTokens: number): GenerationDefaults {
  const t2i: MaskGitDefaults = numVqTokens >= 1024 ? { steps: 50, guidanceScale: 5, temperature: 1, schedule: 'cosine' } : { steps: 18, guidanceScale: 1.75, temperature: 1, schedule: 'cosine' };
  const edits: MaskGitDefaults = { steps: 16, guidanceScale: 1.75, temperature: 1, schedule: 'cosine' };
  return { t2i, inpaint: edits, extrapolate: edits, edit: edits, howto: { ...t2i, guidanceScale: 0 }, answer: { greedy: true } };
}

/** `{ [key]: v }`, or nothing when neither the block nor its base set the key (NaN). */
function optional<K extends string>(key: K, v: number): Partial<Record<K, number>> {
  return Number.isNaN(v) ? {} : ({ [key]: v } as Record<K, number>);
}

function maskGitBlock(block: unknown, base: MaskGitDefaults, where: string, dir: string): MaskGitDefaults {
  if (block === undefined) return base;
  if (!isObject(block)) throw new ModelBundleError('INVALID', dir, `${where}: expected an object`);
  const num = (key: string, ok: (v: number) => boolean, fallback: number): number => {
    const v = block[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !ok(v)) throw new ModelBundleError('INVALID', dir, `${where}.${key}: invalid value ${JSON.stringify(v)}`);
    return v;
  };
  const schedule = block.schedule;
  if (schedule !== undefined && typeof schedule !== 'string' && !isObject(schedule)) throw new ModelBundleError('INVALID', dir, `${where}.schedule: expected a schedule name`);
  return {
    steps: num('steps', (v) => Number.isInteger(v) && v >= 1, base.steps),
    guidanceScale: num('guidance_scale', (v) => v >= 0 && Number.isFinite(v), base.guidanceScale),
    temperature: num('temperature', (v) => v >= 0 && Number.isFinite(v), base.temperature),
    schedule: (schedule as MaskScheduleSpec | undefined) ?? base.schedule,
    ...optional('rerank', num('rerank', (v) => Number.isInteger(v) && v >= 1, base.rerank ?? NaN)),
    ...optional('codeTemperature', num('code_temperature', (v) => v >= 0 && Number.isFinite(v), base.codeTemperature ?? NaN)),
  };
}

/**
 * The embedded config's `generation` block: `{steps, guidance_scale, temperature, code_temperature, schedule}` apply to every image
 * task (`rerank`, text-to-image's best-of-N candidates, to t2i alone); optional `inpaint` / `extrapolate` / `edit` /
 * `howto` sub-blocks override them per task, and an `answer`
 * sub-block (`max_new_tokens`, `temperature`, `top_k`, `greedy`) sets understanding.
 */
function embeddedDefaults(json: Json, configFile: string, dir: string): GenerationDefaults {
  const g = json.generation;
  const base: MaskGitDefaults = { steps: 18, guidanceScale: 0, temperature: 1, schedule: 'cosine' };
  if (g === undefined) return { t2i: base, inpaint: base, extrapolate: base, edit: base, howto: base, answer: { greedy: true } };
  if (!isObject(g)) throw new ModelBundleError('INVALID', dir, `${configFile}: "generation" must be an object`);
  const t2i = maskGitBlock(g, base, `${configFile}: generation`, dir);
  const task = (name: string) => maskGitBlock(g[name], t2i, `${configFile}: generation.${name}`, dir);
  const a = g.answer;
  const answer: AnswerDefaults = { greedy: true };
  if (a !== undefined) {
    if (!isObject(a)) throw new ModelBundleError('INVALID', dir, `${configFile}: generation.answer must be an object`);
    if (typeof a.max_new_tokens === 'number') answer.maxNewTokens = a.max_new_tokens;
    if (typeof a.temperature === 'number') answer.temperature = a.temperature;
    if (typeof a.top_k === 'number') answer.topK = a.top_k;
    if (typeof a.greedy === 'boolean') answer.greedy = a.greedy;
    if (a.num_beams !== undefined) {
      if (!(Number.isInteger(a.num_beams) && (a.num_beams as number) >= 1)) throw new ModelBundleError('INVALID', dir, `${configFile}: generation.answer.num_beams must be an integer ≥ 1`);
      answer.numBeams = a.num_beams as number;
    }
    if (typeof a.length_penalty === 'number') answer.lengthPenalty = a.length_penalty;
  }
  return { t2i, inpaint: task('inpaint'), extrapolate: task('extrapolate'), edit: task('edit'), howto: task('howto'), answer };
}

// ─────────────────────────────── layouts ───────────────────────────────

interface Located {
  layout: BundleLayout;
  showoDir: string;
  showoConfigFile: string;
  showoWeights: string;
  showoJson: Json;
  text: { kind: 'word' | 'hf'; path: string };
  magvitConfigFile: string;
  magvitWeights: string;
}

const MAGVIT_WEIGHTS = ['model.safetensors', 'pytorch_model.safetensors'] as const;

function locateEmbedded(dir: string): Located {
  const showoDir = path.join(dir, 'showo');
  const magvitDir = path.join(dir, 'magvit');
  const missing: string[] = [];
  const configFile = path.join(showoDir, 'config.json');
  let json: Json | undefined;
  if (isFile(configFile)) json = readJson(configFile, dir);
  else missing.push('showo/config.json');
  const weights = firstExisting(showoDir, WEIGHTS_FILE_NAMES);
  if (!weights) missing.push('showo/model.safetensors');
  // The vocabulary's name comes from the config when it can be read.
  const tt = json?.text_tokenizer;
  let text: Located['text'] = { kind: 'word', path: path.join(showoDir, 'vocab.json') };
  if (tt !== undefined) {
    if (!isObject(tt)) throw new ModelBundleError('INVALID', dir, `${configFile}: "text_tokenizer" must be an object like {"type": "word", "vocab": "vocab.json"}`);
    const type = tt.type ?? 'word';
    if (type === 'word') {
      text = { kind: 'word', path: path.join(showoDir, typeof tt.vocab === 'string' ? tt.vocab : 'vocab.json') };
    } else if (type === 'hf' || type === 'huggingface') {
      text = { kind: 'hf', path: path.join(showoDir, typeof tt.dir === 'string' ? tt.dir : 'tokenizer') };
    } else {
      throw new ModelBundleError('INVALID', dir, `${configFile}: text_tokenizer.type ${JSON.stringify(type)} is not "word" or "hf"`);
    }
  }
  if (text.kind === 'word' && !isFile(text.path)) missing.push(path.relative(dir, text.path));
  if (text.kind === 'hf' && !isFile(path.join(text.path, 'tokenizer.json'))) missing.push(path.relative(dir, path.join(text.path, 'tokenizer.json')));
  const magvitConfigFile = path.join(magvitDir, 'config.json');
  if (!isFile(magvitConfigFile)) missing.push('magvit/config.json');
  const magvitWeights = firstExisting(magvitDir, MAGVIT_WEIGHTS);
  if (!magvitWeights) missing.push('magvit/model.safetensors');
  if (missing.length) throw incomplete(dir, 'embedded', missing);
  return { layout: 'embedded', showoDir, showoConfigFile: configFile, showoWeights: weights!, showoJson: json!, text, magvitConfigFile, magvitWeights: magvitWeights! };
}

function locateOfficial(dir: string): Located {
  const missing: string[] = [];
  const configFile = path.join(dir, 'config.json');
  const json = readJson(configFile, dir);
  if (isObject(json.text_tokenizer)) {
    // The showo/ half of an embedded folder was given instead of the folder itself.
    throw new ModelBundleError('INVALID', dir, `${dir} looks like the showo/ part of an embedded model folder: pass the folder that holds showo/ and magvit/ (${path.dirname(dir)}?)`);
  }
  const weights = firstExisting(dir, ['pytorch_model.safetensors', 'model.safetensors']);
  if (!weights) missing.push('pytorch_model.safetensors (or model.safetensors)');
  const tokDir = isFile(path.join(dir, 'tokenizer.json')) ? dir : path.join(dir, 'tokenizer');
  if (!isFile(path.join(tokDir, 'tokenizer.json'))) missing.push('tokenizer.json (or tokenizer/tokenizer.json, the Phi-1.5 tokenizer)');
  const magvitDir = path.join(dir, 'magvitv2');
  const magvitConfigFile = path.join(magvitDir, 'config.json');
  if (!isFile(magvitConfigFile)) missing.push('magvitv2/config.json');
  const magvitWeights = firstExisting(magvitDir, ['pytorch_model.safetensors', 'model.safetensors']);
  if (!magvitWeights) missing.push('magvitv2/pytorch_model.safetensors');
  if (missing.length) throw incomplete(dir, 'official', missing);
  return { layout: 'official', showoDir: dir, showoConfigFile: configFile, showoWeights: weights!, showoJson: json, text: { kind: 'hf', path: tokDir }, magvitConfigFile, magvitWeights: magvitWeights! };
}

/** Lower-level errors (config, tokenizer) become one-line bundle errors naming the folder. */
function wrap<T>(dir: string, what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ModelBundleError) throw e;
    if (e instanceof ShowoError || e instanceof Error) throw new ModelBundleError('INVALID', dir, `${what}: ${oneLine(e)}`, [], { cause: e });
    throw e;
  }
}

/**
 * Finds, checks and describes a model folder (either layout) without loading any weight. Throws one
 * {@link ModelBundleError}: `NOT_FOUND` for a folder that does not exist, `INCOMPLETE` naming every missing file,
 * `INVALID` for an unreadable or inconsistent file (config, vocabulary, tokenizer, sizes that disagree).
 */
export function resolveModelBundle(dir: string): ModelBundle {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs)) throw new ModelBundleError('NOT_FOUND', abs, `model folder ${abs} does not exist`);
  if (!isDir(abs)) throw new ModelBundleError('INVALID', abs, `${abs} is not a folder (a model folder holds showo/ and magvit/, or config.json and weights)`);
  let found: Located;
  if (isDir(path.join(abs, 'showo'))) found = locateEmbedded(abs);
  else if (isFile(path.join(abs, 'config.json'))) found = locateOfficial(abs);
  else {
    throw new ModelBundleError(
      'INCOMPLETE',
      abs,
      `${abs} is not a Show-o model folder: expected showo/config.json (embedded layout) or config.json + pytorch_model.safetensors (official layout)`,
      ['showo/config.json'],
    );
  }

  const config = wrap(abs, found.showoConfigFile, () => readShowoConfig(found.showoConfigFile));
  const json = found.showoJson;
  const showoBlock = isObject(json.showo) ? json.showo : {};
  let maxSeqLength = config.max_seq_length ?? (typeof showoBlock.max_seq_length === 'number' ? showoBlock.max_seq_length : undefined);
  if (maxSeqLength === undefined) {
    // The official release config does not record it; every official model was trained with 128 text tokens.
    if (found.layout === 'official') maxSeqLength = 128;
    else throw new ModelBundleError('INVALID', abs, `${found.showoConfigFile}: max_seq_length is missing (give it at the top level or in the "showo" block)`);
  }

  const tokenizer = wrap(abs, found.text.path, () => (found.text.kind === 'word' ? loadWordTokenizer(found.text.path) : loadHfTokenizer(found.text.path)));
  if (tokenizer.vocabSize !== config.llm_vocab_size) {
    throw new ModelBundleError('INVALID', abs, `${found.text.path}: the text tokenizer has ${tokenizer.vocabSize} ids but ${found.showoConfigFile} says llm_vocab_size ${config.llm_vocab_size}`);
  }
  const layout = wrap(abs, found.showoConfigFile, () => tokenLayoutFor(config, { bosId: tokenizer.bosId, eosId: tokenizer.eosId }));

  const magvitConfig = wrap(abs, found.magvitConfigFile, () => readMagvitConfig(found.magvitConfigFile));
  if (2 ** magvitConfig.codebookDim !== config.codebook_size) {
    throw new ModelBundleError(
      'INVALID',
      abs,
      `the image tokenizer has ${2 ** magvitConfig.codebookDim} codes (codebook_dim ${magvitConfig.codebookDim}) but ${found.showoConfigFile} says codebook_size ${config.codebook_size}`,
    );
  }
  const side = Math.round(Math.sqrt(config.num_vq_tokens));
  if (side * side !== config.num_vq_tokens) throw new ModelBundleError('INVALID', abs, `${found.showoConfigFile}: num_vq_tokens ${config.num_vq_tokens} is not a square grid`);
  const patchSize = downsampleFactor(magvitConfig);

  return {
    dir: abs,
    layout: found.layout,
    showo: { dir: found.showoDir, configFile: found.showoConfigFile, weightsFile: found.showoWeights, config, json },
    magvit: { configFile: found.magvitConfigFile, weightsFile: found.magvitWeights, config: magvitConfig },
    text: { kind: found.text.kind, path: found.text.path, tokenizer },
    layoutOptions: {
      llmVocabSize: layout.llmVocabSize,
      codebookSize: layout.codebookSize,
      bosId: layout.bosId,
      eosId: layout.eosId,
      numNewSpecialTokens: layout.numNewSpecialTokens,
      vocabSize: layout.baseVocabSize,
    },
    prompting: { maxSeqLength, numVqTokens: config.num_vq_tokens },
    grid: { height: side, width: side },
    patchSize,
    imageSize: side * patchSize,
    generation: found.layout === 'embedded' ? embeddedDefaults(json, found.showoConfigFile, abs) : officialDefaults(config.num_vq_tokens),
  };
}

/** A bundle with its weights on the current backend. `dispose()` frees both models. */
export interface LoadedModelBundle {
  readonly bundle: ModelBundle;
  readonly model: ShowoModel;
  readonly magvit: MagvitTokenizer;
  dispose(): void;
}

/**
 * Resolves a folder (or takes a resolved bundle) and loads the transformer and the image tokenizer onto the
 * current backend (call `initBackend` first). Nothing stays allocated when loading fails.
 */
export async function loadModelBundle(source: string | ModelBundle, options: Omit<LoadOptions, 'config' | 'weightsFile'> = {}): Promise<LoadedModelBundle> {
  const bundle = typeof source === 'string' ? resolveModelBundle(source) : source;
  const model = await ShowoModel.load(bundle.showo.dir, { ...options, config: bundle.showo.config, weightsFile: bundle.showo.weightsFile });
  let magvit: MagvitTokenizer;
  try {
    magvit = loadMagvit(bundle.magvit.weightsFile, { config: bundle.magvit.config });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return {
    bundle,
    model,
    magvit,
    dispose: () => {
      model.dispose();
      magvit.dispose();
    },
  };
}

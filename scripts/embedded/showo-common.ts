// Show-o side of the embedded-model scripts: the word tokenizer, token layout and prompting of the embedded model,
// its config, and the evaluation on the public Shapes World files with the @showo/sampler pipelines.
import fs from 'node:fs';
import path from 'node:path';
import { TokenLayout, UniversalPrompting, WordTokenizer, buildWordVocabulary } from '@showo/prompting';
import { imageResult, magvitCodec, textResult, textToImage, understand, type ImageCodec, type ShowoPipelineDeps } from '@showo/sampler';
import {
  evaluateMmu,
  evaluateT2i,
  parseMmuJsonl,
  parseT2iJsonl,
  renderScene,
  vocabularyWords,
  type MmuItem,
  type MmuReport,
  type T2iItem,
  type T2iReport,
} from '@showo/shapes-world';
import type { ShowoConfig, ShowoModel } from '@showo/showo-core';
import type { MagvitTokenizer } from '@showo/tokenizer-magvit';
import { magvitImageEncoder, type ImageEncoder } from '@showo/trainer';

export const SHARED = process.env.SHOWO_SHARED ?? '/work/shared/shapes-world';
/** Text budget of the embedded model (longest question + answer of the language is 15 words). */
export const EMBEDDED_MSL = 24;
export const NUM_VQ_TOKENS = 256;
export const CODEBOOK_SIZE = 256;

export interface EmbeddedSetup {
  tokenizer: WordTokenizer;
  layout: TokenLayout;
  prompting: UniversalPrompting;
}

/** The embedded model's text side and token layout, for a tokenizer of `codebookSize` codes (default 256). */
export function embeddedSetup(codebookSize = CODEBOOK_SIZE): EmbeddedSetup {
  const tokenizer = new WordTokenizer(buildWordVocabulary(vocabularyWords()));
  const layout = new TokenLayout({ llmVocabSize: tokenizer.vocabSize, codebookSize, bosId: tokenizer.bosId });
  const prompting = new UniversalPrompting(layout, { maxSeqLength: EMBEDDED_MSL, numVqTokens: NUM_VQ_TOKENS }, tokenizer);
  return { tokenizer, layout, prompting };
}

export function embeddedShowoConfig(layout: TokenLayout, o: { hidden: number; layers: number; heads: number }): ShowoConfig {
  return {
    vocab_size: layout.vocabSize,
    llm_vocab_size: layout.llmVocabSize,
    num_new_special_tokens: 10,
    codebook_size: layout.codebookSize,
    num_vq_tokens: NUM_VQ_TOKENS,
    hidden_size: o.hidden,
    intermediate_size: 4 * o.hidden,
    num_hidden_layers: o.layers,
    num_attention_heads: o.heads,
    partial_rotary_factor: 0.5,
    qk_layernorm: true,
    layer_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 1024, // RoPE has no learned table: this is only the position budget (3-step how-to ≈ 822)
    max_seq_length: EMBEDDED_MSL,
  };
}

export interface GenerationSettings {
  steps: number;
  guidanceScale: number;
  temperature: number;
  /** Mask schedule name (`cosine` when absent). */
  schedule?: string;
}

export interface ShowoScores {
  t2i: number;
  mmu: number;
  score: number;
  t2iByTag: Record<string, number>;
  mmuByKind: Record<string, number>;
  nT2i: number;
  nMmu: number;
  evalSeconds: number;
}

export function loadEvalItems(): { t2i: T2iItem[]; mmu: MmuItem[] } {
  return {
    t2i: parseT2iJsonl(fs.readFileSync(path.join(SHARED, 't2i-public.jsonl'), 'utf8')),
    mmu: parseMmuJsonl(fs.readFileSync(path.join(SHARED, 'mmu-public.jsonl'), 'utf8')),
  };
}

/** Every k-th item (a fixed, tag-balanced-enough subset for frequent evaluation). */
export function everyKth<T>(items: readonly T[], k: number): T[] {
  return items.filter((_, i) => i % k === 0);
}

/** How evaluation turns scenes into codes and codes into images: a trained tokenizer, or exact patch codes. */
export interface EmbeddedImages {
  codec: ImageCodec;
  encoder: ImageEncoder;
}

export function magvitImages(magvit: MagvitTokenizer): EmbeddedImages {
  return { codec: magvitCodec(magvit), encoder: magvitImageEncoder(magvit) };
}

/**
 * Scores a model on t2i items (MaskGIT with CFG, images decoded by the tokenizer and checked by the SPEC detector)
 * and mmu items (scenes rendered, encoded, greedy answers, or beam search with `numBeams`). score = mean of the two
 * accuracies.
 */
export async function evaluateShowo(
  model: ShowoModel,
  tokenizer: MagvitTokenizer | EmbeddedImages,
  setup: EmbeddedSetup,
  items: { t2i: readonly T2iItem[]; mmu: readonly MmuItem[] },
  gen: GenerationSettings,
  o: { batch?: number; seed?: number; keepImages?: Map<string, Uint8Array>; numBeams?: number; lengthPenalty?: number } = {},
): Promise<ShowoScores & { answers: Map<string, string>; t2iReport?: T2iReport; mmuReport?: MmuReport }> {
  const t0 = Date.now();
  const images = 'codec' in tokenizer ? tokenizer : magvitImages(tokenizer);
  const deps: ShowoPipelineDeps = { model, prompting: setup.prompting, codec: images.codec };
  const batch = o.batch ?? 20;
  const generated = new Map<string, Uint8Array>();
  for (let i = 0; i < items.t2i.length; i += batch) {
    const part = items.t2i.slice(i, i + batch);
    const r = await imageResult(
      textToImage(deps, { prompts: part.map((x) => x.prompt), steps: gen.steps, guidanceScale: gen.guidanceScale, temperature: gen.temperature, schedule: gen.schedule ?? 'cosine', seed: (o.seed ?? 0) + i }),
    );
    r?.images?.forEach((img, k) => generated.set(part[k].id, Uint8Array.from(img.data)));
  }
  o.keepImages && generated.forEach((v, k) => o.keepImages!.set(k, v));
  const t2iReport = items.t2i.length ? evaluateT2i(items.t2i, generated) : undefined;
  const encoder = images.encoder;
  const answers = new Map<string, string>();
  const eos = setup.layout.eosId;
  for (let i = 0; i < items.mmu.length; i += batch) {
    const part = items.mmu.slice(i, i + batch);
    const codes = await encoder.encode(part.map((x) => renderScene(x.scene as never)), 64);
    const r = await textResult(
      understand(deps, { images: codes.map((c) => ({ codes: c })), questions: part.map((x) => x.question), greedy: true, maxNewTokens: 16, stopIds: [eos], ...(o.numBeams ? { numBeams: o.numBeams } : {}), ...(o.lengthPenalty !== undefined ? { lengthPenalty: o.lengthPenalty } : {}) }),
    );
    part.forEach((x, k) => {
      const toks = (r?.tokens[k] ?? []).filter((t) => t !== eos && t < setup.tokenizer.vocabSize);
      answers.set(x.id, setup.tokenizer.decode(toks).trim());
    });
  }
  const mmuReport = items.mmu.length ? evaluateMmu(items.mmu, answers) : undefined;
  const t2i = t2iReport ? t2iReport.overall.accuracy : 0;
  const mmu = mmuReport ? mmuReport.overall.accuracy : 0;
  const t2iByTag: Record<string, number> = {};
  for (const [k, v] of Object.entries(t2iReport?.byTag ?? {})) t2iByTag[k] = (v as { accuracy: number }).accuracy;
  const mmuByKind: Record<string, number> = {};
  for (const [k, v] of Object.entries(mmuReport?.byKind ?? {})) mmuByKind[k] = (v as { accuracy: number }).accuracy;
  return { t2i, mmu, score: (t2i + mmu) / 2, t2iByTag, mmuByKind, nT2i: items.t2i.length, nMmu: items.mmu.length, evalSeconds: (Date.now() - t0) / 1000, answers, t2iReport, mmuReport };
}

import { InvalidArgumentError } from '@showo/runtime';
import { TaskAlreadyRegisteredError, UnknownTaskError } from './errors.js';
import type { TokenLayout } from './layout.js';
import type {
  CallOptions,
  ExtrapolationInput,
  InpaintingInput,
  InterleavedInput,
  LmInput,
  MmuInput,
  PromptBatch,
  T2iGenInput,
  T2iTrainInput,
  UniversalPrompting,
} from './prompts.js';
import { describeSegments } from './segments.js';
import type { PadPolicy, Segment } from './types.js';

/** The official mask function that reproduces a task's training mask exactly (informational). */
export type OfficialMaskRule = 'predict_next(rm_pad_in_image=True)' | 'predict_next(rm_pad_in_image=False)' | 'for_mmu' | 'lvg';

/**
 * A task's attention rule: how to cut a row of ids into segments for the general omni-attention builder, and how
 * padding behaves there.
 */
export interface AttentionRule {
  pad: PadPolicy;
  segments(ids: ArrayLike<number>, layout: TokenLayout): Segment[];
  /** The official mask function this rule agrees with, if any. */
  official?: OfficialMaskRule;
}

/** What a prompt builder gets besides its input. */
export interface TaskContext {
  prompting: UniversalPrompting;
  layout: TokenLayout;
  /** Id of the task's token (undefined for a task without one, such as lm). */
  tokenId: number | undefined;
  options: CallOptions;
}

/** A task: its name, the task token it claims, its prompt format and its attention rule. */
export interface TaskDefinition<I = unknown> {
  name: string;
  /**
   * The task token the task claims. For a plugin it must be new: it is appended to the token layout after
   * `[MASK]` (or takes the id a checkpoint already gave it, see `TokenLayoutOptions.pluginTokens`).
   */
  token?: string;
  description?: string;
  /** Builds a batch of prompts. */
  build(input: I, context: TaskContext): PromptBatch;
  attention: AttentionRule;
}

/** A registered task, with its token id resolved. */
export interface RegisteredTask<I = unknown> extends TaskDefinition<I> {
  readonly tokenId: number | undefined;
  readonly builtin: boolean;
}

/** Attention rule of the t2i-style tasks: image blocks bidirectional, pads isolated. */
export const T2I_ATTENTION: AttentionRule = {
  pad: 'isolate',
  segments: (ids, layout) => describeSegments(ids, layout),
  official: 'predict_next(rm_pad_in_image=True)',
};

/** Attention rule of mmu: `<|mmu|>` + image one bidirectional block, then causal text; pads behave as text. */
export const MMU_ATTENTION: AttentionRule = {
  pad: 'attend',
  segments: (ids, layout) => describeSegments(ids, layout, { bidirectionalPrefix: true }),
  official: 'for_mmu',
};

/** Attention rule of lm: causal, pads behave as text. */
export const LM_ATTENTION: AttentionRule = {
  pad: 'attend',
  segments: (ids, layout) => describeSegments(ids, layout),
  official: 'predict_next(rm_pad_in_image=False)',
};

/** Attention rule of lvg / interleaved sequences: causal text, every image block bidirectional, pads isolated. */
export const INTERLEAVED_ATTENTION: AttentionRule = {
  pad: 'isolate',
  segments: (ids, layout) => describeSegments(ids, layout),
  official: 'lvg',
};

/** The builtin tasks, named after the official task strings. */
function builtinTasks(): TaskDefinition<any>[] {
  const t2i = '<|t2i|>';
  const mmu = '<|mmu|>';
  return [
    { name: 't2i', token: t2i, description: 'text-to-image training (condition dropout, labels)', attention: T2I_ATTENTION, build: (i: T2iTrainInput, c) => c.prompting.t2i(i, c.options) },
    { name: 't2i_gen', token: t2i, description: 'text-to-image generation', attention: T2I_ATTENTION, build: (i: T2iGenInput, c) => c.prompting.t2iGen(i, c.options) },
    { name: 'inpainting', token: t2i, description: 't2i generation with a region of the image masked', attention: T2I_ATTENTION, build: (i: InpaintingInput, c) => c.prompting.inpainting(i, c.options) },
    { name: 'extrapolation', token: t2i, description: 't2i generation extending the canvas', attention: T2I_ATTENTION, build: (i: ExtrapolationInput, c) => c.prompting.extrapolation(i, c.options) },
    { name: 'mmu', token: mmu, description: 'multimodal understanding training', attention: MMU_ATTENTION, build: (i: MmuInput, c) => c.prompting.mmu(i, c.options) },
    { name: 'mmu_gen', token: mmu, description: 'multimodal understanding generation (inference_mmu.py)', attention: MMU_ATTENTION, build: (i: MmuInput, c) => c.prompting.mmuGen(i, c.options) },
    { name: 'lm', description: 'language modelling', attention: LM_ATTENTION, build: (i: LmInput, c) => c.prompting.lm(i, c.options) },
    // The official lvg prompts start with <|t2i|>; <|lvg|> is claimed by lvg so that no plugin takes it.
    { name: 'lvg', token: '<|lvg|>', description: 'language-guided generation training (official format, <|t2i|> token)', attention: INTERLEAVED_ATTENTION, build: (i: T2iTrainInput, c) => c.prompting.lvg(i, c.options) },
    { name: 'lvg_gen', token: '<|lvg|>', description: 'language-guided generation (official format)', attention: INTERLEAVED_ATTENTION, build: (i: T2iGenInput, c) => c.prompting.lvgGen(i, c.options) },
    { name: 'interleaved', token: '<|lvg|>', description: 'interleaved text and images', attention: INTERLEAVED_ATTENTION, build: (i: InterleavedInput, c) => c.prompting.interleaved(i, c.options) },
  ];
}

/** Options of {@link TaskRegistry}. */
export interface TaskRegistryOptions {
  /** Register the builtin tasks (default true). */
  builtins?: boolean;
}

/**
 * Maps task names to their token, prompt format and attention rule. The builtin tasks (t2i, t2i_gen, inpainting,
 * extrapolation, mmu, mmu_gen, lm, lvg, lvg_gen, interleaved) are registered by default; a plugin package adds its
 * own with {@link register}.
 *
 * Registering fails with {@link TaskAlreadyRegisteredError} when the task name is taken, when the token is one the
 * vocabulary already has (an official Show-o token, `[MASK]`, or BOS/EOS), or when another task claimed it.
 * A plugin token a checkpoint already contains (`TokenLayoutOptions.pluginTokens`) but no task claims yet is
 * taken over with its id.
 */
export class TaskRegistry {
  readonly layout: TokenLayout;
  readonly prompting: UniversalPrompting;
  private readonly tasks = new Map<string, RegisteredTask<any>>();

  constructor(prompting: UniversalPrompting, options: TaskRegistryOptions = {}) {
    this.prompting = prompting;
    this.layout = prompting.layout;
    if (options.builtins ?? true) {
      for (const def of builtinTasks()) this.add(def, true);
    }
  }

  /** Registers a plugin task; returns it with its token id. */
  register<I>(definition: TaskDefinition<I>): RegisteredTask<I> {
    const { name, token } = definition;
    if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('a task needs a non-empty name');
    if (typeof definition.build !== 'function' || !definition.attention || typeof definition.attention.segments !== 'function') {
      throw new InvalidArgumentError(`task "${name}" needs a build function and an attention rule`);
    }
    if (this.tasks.has(name)) throw new TaskAlreadyRegisteredError(name, token, `a task named "${name}" is already registered`);
    if (token !== undefined) {
      const owner = this.taskForToken(token);
      if (owner) throw new TaskAlreadyRegisteredError(name, token, `the token is already claimed by task "${owner.name}"`);
      if (this.layout.hasSpecial(token) && !this.layout.hasPluginToken(token)) {
        throw new TaskAlreadyRegisteredError(name, token, 'the token already exists in the vocabulary (official Show-o token); a plugin brings a new token');
      }
    }
    return this.add(definition, false);
  }

  /** The task of that name; throws {@link UnknownTaskError}. */
  get<I = unknown>(name: string): RegisteredTask<I> {
    const task = this.tasks.get(name);
    if (!task) throw new UnknownTaskError(name, this.names());
    return task as RegisteredTask<I>;
  }

  /** Whether a task of that name is registered. */
  has(name: string): boolean {
    return this.tasks.has(name);
  }

  /** Registered task names, in registration order. */
  names(): string[] {
    return [...this.tasks.keys()];
  }

  /** The first task (in registration order) claiming a token, given by name or id. */
  taskForToken(token: string | number): RegisteredTask | undefined {
    for (const task of this.tasks.values()) {
      if (task.token === undefined) continue;
      if (typeof token === 'string' ? task.token === token : task.tokenId === token) return task;
    }
    return undefined;
  }

  /** Builds a batch of prompts for a task. */
  build<I>(name: string, input: I, options: CallOptions = {}): PromptBatch {
    const task = this.get<I>(name);
    return task.build(input, { prompting: this.prompting, layout: this.layout, tokenId: task.tokenId, options });
  }

  /** The task's segment description of each row, for the general omni-attention mask builder. */
  segments(name: string, inputIds: readonly ArrayLike<number>[]): Segment[][] {
    const task = this.get(name);
    return inputIds.map((ids) => task.attention.segments(ids, this.layout));
  }

  private add<I>(definition: TaskDefinition<I>, builtin: boolean): RegisteredTask<I> {
    const tokenId =
      definition.token === undefined ? undefined : builtin ? this.layout.special(definition.token) : this.layout.ensurePluginToken(definition.token);
    const task: RegisteredTask<I> = { ...definition, tokenId, builtin };
    this.tasks.set(definition.name, task);
    return task;
  }
}

import { ShowoError } from '@showo/runtime';

/** The word-level tokenizer met a word outside its vocabulary while in strict mode. */
export class UnknownWordError extends ShowoError {
  /** The offending word, exactly as it appeared after splitting. */
  readonly word: string;
  constructor(word: string, text?: string) {
    super(
      'UNKNOWN_WORD',
      `unknown word "${word}"${text === undefined ? '' : ` in "${text}"`}: it is not in the tokenizer's vocabulary ` +
        '(rebuild the vocabulary with buildWordVocabulary, or use the non-strict mode that maps it to <unk>)',
    );
    this.word = word;
  }
}

/** A task name, or the task token it claims, is already registered (or the token already exists in the vocabulary). */
export class TaskAlreadyRegisteredError extends ShowoError {
  readonly task: string;
  readonly token: string | undefined;
  constructor(task: string, token: string | undefined, reason: string) {
    super('TASK_ALREADY_REGISTERED', `cannot register task "${task}"${token ? ` with token ${token}` : ''}: ${reason}`);
    this.task = task;
    this.token = token;
  }
}

/** No task of that name is registered. */
export class UnknownTaskError extends ShowoError {
  readonly task: string;
  constructor(task: string, known: readonly string[]) {
    super('UNKNOWN_TASK', `unknown task "${task}" (registered: ${known.join(', ') || 'none'})`);
    this.task = task;
  }
}

/** A special token name that the token layout does not know. */
export class UnknownSpecialTokenError extends ShowoError {
  readonly token: string;
  constructor(token: string, known: readonly string[]) {
    super('UNKNOWN_SPECIAL_TOKEN', `unknown special token ${token} (known: ${known.join(' ')})`);
    this.token = token;
  }
}

/** A prompt is longer than the configured limit and the builder runs in strict mode (no truncation). */
export class PromptTooLongError extends ShowoError {
  readonly row: number;
  readonly length: number;
  readonly limit: number;
  constructor(task: string, row: number, length: number, limit: number) {
    super(
      'PROMPT_TOO_LONG',
      `${task} prompt of batch row ${row} has ${length} tokens, more than the limit of ${limit} ` +
        '(shorten the text, raise max_seq_length, or leave strict mode to truncate the official way)',
    );
    this.row = row;
    this.length = length;
    this.limit = limit;
  }
}

/** An image-token list whose length differs from the model's `num_vq_tokens`. */
export class ImageTokenCountError extends ShowoError {
  readonly row: number;
  readonly expected: number;
  readonly actual: number;
  constructor(what: string, row: number, expected: number, actual: number) {
    super('IMAGE_TOKEN_COUNT', `${what} of batch row ${row} has ${actual} tokens; the model expects num_vq_tokens = ${expected}`);
    this.row = row;
    this.expected = expected;
    this.actual = actual;
  }
}

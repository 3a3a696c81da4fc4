import { ShowoError } from '@showo/runtime';

/** A line of a JSON Lines file is not valid JSON or does not have the expected format. */
export class JsonlLineError extends ShowoError {
  /** 1-based line number in the file. */
  readonly line: number;
  /** File name (or other label) given to the parser, if any. */
  readonly source: string | undefined;
  constructor(line: number, reason: string, source?: string) {
    super('JSONL_LINE', `${source ?? 'jsonl'}:${line}: ${reason}`);
    this.line = line;
    this.source = source;
  }
}

/** The generator could not place objects under the requested constraints (e.g. too many large objects). */
export class GenerationError extends ShowoError {
  constructor(message: string) {
    super('GENERATION_FAILED', message);
  }
}

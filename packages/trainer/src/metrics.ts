import fs from 'node:fs';
import path from 'node:path';
import { tap, type MonoTypeOperatorFunction } from 'rxjs';
import type { StepEvent, TrainEvent } from './types.js';

/**
 * Appends events as JSON Lines (one object per line, flushed per event, so a crash loses nothing already
 * reported). Synchronous on purpose: one line per optimiser step is negligible next to a step.
 */
export class JsonlWriter {
  readonly file: string;
  constructor(file: string) {
    this.file = file;
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  }
  write(record: object): void {
    fs.appendFileSync(this.file, JSON.stringify(record) + '\n');
  }
}

/** Reads a JSON Lines file; a torn last line (from a crash mid-write) is ignored. Missing file → []. */
export function readJsonl<T = unknown>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  const out: T[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      /* torn line */
    }
  }
  return out;
}

/**
 * Prepares a metrics log for a resumed run: keeps only records of steps ≤ `step` (those after the checkpoint
 * will be recomputed) and rewrites the file atomically. Returns the kept step events (the loss history).
 */
export function truncateMetricsLog(file: string, step: number): StepEvent[] {
  const kept = readJsonl<{ type?: string; step?: number }>(file).filter((r) => typeof r.step !== 'number' || r.step <= step);
  if (fs.existsSync(file)) {
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, kept.map((r) => JSON.stringify(r) + '\n').join(''));
    fs.renameSync(tmp, file);
  }
  return kept.filter((r): r is StepEvent => r.type === 'step');
}

/** RxJS operator: writes every passing event to a JSON Lines file (for consumers of the training Observable). */
export function logEventsTo(file: string): MonoTypeOperatorFunction<TrainEvent> {
  const writer = new JsonlWriter(file);
  return tap((e) => writer.write(e));
}

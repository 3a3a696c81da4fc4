import cliProgress from 'cli-progress';

/** Where a bar draws: a stream (stderr by default), redrawn in place only when it is a terminal. */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

/**
 * A progress bar for long commands. On a terminal it redraws in place; elsewhere (CI, pipes, tests) it prints a
 * line at most every few seconds, and always the last one, so logs stay readable.
 */
export class ProgressBar {
  private bar: cliProgress.SingleBar | undefined;
  private lastLine = 0;
  private lastValue = -1;
  private readonly tty: boolean;
  private readonly stream: ProgressStream;
  constructor(
    private readonly label: string,
    private total: number,
    stream: ProgressStream = process.stderr,
  ) {
    this.stream = stream;
    this.tty = Boolean(stream.isTTY);
    if (this.tty) {
      this.bar = new cliProgress.SingleBar(
        {
          format: `${label} [{bar}] {value}/{total} {percentage}% | ETA {eta_formatted} | {info}`,
          stream: stream as NodeJS.WritableStream,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { info: '' });
    }
  }

  /** Changes the total (e.g. once a stream announced how many steps it will take). */
  setTotal(total: number): void {
    this.total = total;
    this.bar?.setTotal(total);
  }

  update(value: number, info = ''): void {
    if (this.bar) {
      this.bar.update(value, { info });
      return;
    }
    const now = Date.now();
    if ((now - this.lastLine > 2000 || value >= this.total) && value !== this.lastValue) {
      this.lastLine = now;
      this.lastValue = value;
      this.stream.write(`${this.label} ${value}/${this.total}${info ? ` ${info}` : ''}\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

/** `1h02m`, `3m05s`, `12s` from milliseconds. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

import cliProgress from 'cli-progress';

/**
 * A progress bar for long commands. On a terminal it redraws in place; elsewhere (CI, pipes) it prints a line at
 * most every few seconds so logs stay readable.
 */
export class ProgressBar {
  private bar: cliProgress.SingleBar | undefined;
  private lastLine = 0;
  private readonly tty = Boolean(process.stderr.isTTY);
  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {
    if (this.tty) {
      this.bar = new cliProgress.SingleBar(
        { format: `${label} [{bar}] {value}/{total} {percentage}% | ETA {eta_formatted} | {info}`, stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { info: '' });
    }
  }
  update(value: number, info = ''): void {
    if (this.bar) {
      this.bar.update(value, { info });
      return;
    }
    const now = Date.now();
    if (now - this.lastLine > 2000 || value >= this.total) {
      this.lastLine = now;
      process.stderr.write(`${this.label} ${value}/${this.total} ${info}\n`);
    }
  }
  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

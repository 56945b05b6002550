/**
 * Progress on stderr while benchmarks run: on a terminal one line redrawn in place with a bar; in a
 * log (CI, a pipe) one line when each run starts, so tables on stdout stay clean either way.
 */
export class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private label = '';
  private step = 0;
  private lastDrawn = '';

  constructor(private readonly total: number) {}

  /** A new run begins. */
  start(label: string): void {
    this.step++;
    this.label = `[${String(this.step).padStart(String(this.total).length)}/${this.total}] ${label}`;
    if (this.tty) this.draw(0);
    else process.stderr.write(`${this.label} ...\n`);
  }

  /** Fraction 0..1 of the current run. */
  update(fraction: number): void {
    if (this.tty) this.draw(fraction);
  }

  /** The current run's outcome, kept on screen. */
  finish(outcome: string): void {
    if (this.tty) {
      process.stderr.write(`\r\x1b[2K${this.label}  ${outcome}\n`);
      this.lastDrawn = '';
    } else {
      process.stderr.write(`${this.label}  ${outcome}\n`);
    }
  }

  /** A message between runs. */
  note(text: string): void {
    if (this.tty && this.lastDrawn) process.stderr.write('\r\x1b[2K');
    process.stderr.write(`${text}\n`);
    this.lastDrawn = '';
  }

  private draw(fraction: number): void {
    const width = 20;
    const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
    const text = `${this.label}  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(fraction * 100)}%`;
    if (text === this.lastDrawn) return;
    this.lastDrawn = text;
    process.stderr.write(`\r\x1b[2K${text}`);
  }
}

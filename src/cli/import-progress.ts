import cliProgress from 'cli-progress';

/**
 * Progress of an import on stderr: a live bar on a terminal, otherwise (a
 * log file, CI) one plain line every few seconds. The ETA comes from the
 * share of the file read, the rate from rows processed.
 */
export interface ImportProgress {
  update(rows: number, bytesRead: number): void;
  stop(): void;
}

export const PLAIN_PROGRESS_INTERVAL_MS = 5000;

export function createImportProgress(stream: NodeJS.WriteStream, totalBytes: number): ImportProgress {
  return stream.isTTY ? new TerminalProgress(stream, totalBytes) : new PlainProgress((text) => stream.write(text), totalBytes);
}

const numberFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatCount(n: number): string {
  return numberFormat.format(n);
}

function ratePerSecond(rows: number, elapsedMs: number): number {
  return elapsedMs > 0 ? (rows * 1000) / elapsedMs : 0;
}

class TerminalProgress implements ImportProgress {
  private readonly bar: cliProgress.SingleBar;
  private readonly startedAt = Date.now();

  constructor(stream: NodeJS.WriteStream, totalBytes: number) {
    this.bar = new cliProgress.SingleBar({
      stream,
      format: 'importing [{bar}] {percentage}% | {rows} rows | {rate} rows/s | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
    });
    this.bar.start(Math.max(totalBytes, 1), 0, { rows: '0', rate: '0' });
  }

  update(rows: number, bytesRead: number): void {
    const rate = ratePerSecond(rows, Date.now() - this.startedAt);
    this.bar.update(bytesRead, { rows: formatCount(rows), rate: formatCount(rate) });
  }

  stop(): void {
    this.bar.stop();
  }
}

/** One line per interval; time comes from `clock` so the output is testable. */
export class PlainProgress implements ImportProgress {
  private readonly startedAt: number;
  private lastPrintedAt: number;

  constructor(
    private readonly write: (text: string) => void,
    private readonly totalBytes: number,
    private readonly clock: () => number = Date.now,
    private readonly intervalMs = PLAIN_PROGRESS_INTERVAL_MS,
  ) {
    this.startedAt = clock();
    this.lastPrintedAt = this.startedAt;
  }

  update(rows: number, bytesRead: number): void {
    const now = this.clock();
    if (now - this.lastPrintedAt < this.intervalMs) return;
    this.lastPrintedAt = now;
    const elapsedMs = now - this.startedAt;
    const share = this.totalBytes > 0 ? Math.min(bytesRead / this.totalBytes, 1) : 1;
    const parts = [`importing: ${formatCount(rows)} rows`, `${Math.floor(share * 100)}% of the file`];
    parts.push(`${formatCount(ratePerSecond(rows, elapsedMs))} rows/s`);
    if (share > 0) parts.push(`ETA ${formatCount((elapsedMs * (1 - share)) / share / 1000)}s`);
    this.write(`${parts.join(', ')}\n`);
  }

  stop(): void {}
}

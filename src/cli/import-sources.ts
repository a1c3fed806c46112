import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { parse as parseCsv } from 'csv-parse';

/**
 * Streaming readers for import files. Each holds one chunk of the file (and,
 * for CSV, the parser's small buffer) at a time, and counts the bytes it has
 * read so the progress display can estimate the time left from the file size.
 */

export interface ByteProgress {
  readonly bytesRead: number;
}

const CHUNK_BYTES = 1 << 16;
const BYTE_ORDER_MARK = '\uFEFF';

/** One line of an NDJSON file; blank lines are skipped but counted. */
export interface NdjsonLine {
  readonly line: number;
  readonly text: string;
}

export class NdjsonSource implements ByteProgress {
  bytesRead = 0;

  constructor(private readonly path: string) {}

  /** The file's non-blank lines, a chunk's worth at a time. */
  async *lines(): AsyncGenerator<NdjsonLine[]> {
    const decoder = new StringDecoder('utf8');
    let pending = '';
    let line = 0;
    for await (const chunk of createReadStream(this.path, { highWaterMark: CHUNK_BYTES })) {
      this.bytesRead += (chunk as Buffer).length;
      const text = pending + decoder.write(chunk as Buffer);
      const lines: NdjsonLine[] = [];
      let start = line === 0 && text.startsWith(BYTE_ORDER_MARK) ? 1 : 0;
      for (let end = text.indexOf('\n', start); end !== -1; end = text.indexOf('\n', start)) {
        line++;
        const content = lineContent(text, start, end);
        if (content !== undefined) lines.push({ line, text: content });
        start = end + 1;
      }
      pending = text.slice(start);
      if (lines.length > 0) yield lines;
    }
    pending += decoder.end();
    const content = lineContent(pending, 0, pending.length);
    if (content !== undefined) yield [{ line: line + 1, text: content }];
  }
}

/** The line between start and end without a CRLF's CR; undefined for a blank line. */
function lineContent(text: string, start: number, end: number): string | undefined {
  const stop = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
  const content = text.slice(start, stop);
  return content.trim() === '' ? undefined : content;
}

/** A CSV record (the header is the first) or a record the parser could not read. */
export type CsvRecord = { readonly line: number; readonly cells: string[] } | { readonly line: number; readonly error: string };

export class CsvSource implements ByteProgress {
  private parser: ReturnType<typeof parseCsv> | undefined;

  constructor(private readonly path: string) {}

  get bytesRead(): number {
    return this.parser?.info.bytes ?? 0;
  }

  /**
   * Records in file order, with the line each starts on. A malformed record
   * (wrong number of cells, a stray quote) becomes an error record and reading
   * goes on with the next one.
   */
  async *records(): AsyncGenerator<CsvRecord> {
    const skipped: { line: number; error: string }[] = [];
    const parser = parseCsv({
      bom: true,
      info: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      on_skip: (error) => {
        if (error) skipped.push({ line: Number(error.lines) || 0, error: error.message });
      },
    });
    this.parser = parser;
    const file = createReadStream(this.path, { highWaterMark: CHUNK_BYTES });
    file.on('error', (error) => parser.destroy(error));
    file.pipe(parser);
    for await (const { info, record } of parser as AsyncIterable<{ info: { lines: number }; record: string[] }>) {
      const line = info.lines - newlinesIn(record);
      for (let next = skipped[0]; next !== undefined && next.line < line; next = skipped[0]) {
        skipped.shift();
        yield next;
      }
      yield { line, cells: record };
    }
    yield* skipped;
  }
}

/** Quoted cells may span lines; the parser reports the line a record ends on. */
function newlinesIn(cells: readonly string[]): number {
  let count = 0;
  for (const cell of cells) {
    for (let i = cell.indexOf('\n'); i !== -1; i = cell.indexOf('\n', i + 1)) count++;
  }
  return count;
}

import { statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parseArgs } from 'node:util';
import { readConfig } from '../config.js';
import { isApplicationCode } from '../domain/codes.js';
import type { Store } from '../store/store.js';
import { openCommandStore } from './command.js';
import { DEFAULT_BATCH_SIZE, DeviceImporter, type ImportTotals } from './import-pipeline.js';
import { createImportProgress, formatCount, type ImportProgress } from './import-progress.js';
import { CsvRowReader, ImportFileError, parseNdjsonRow } from './import-rows.js';
import { CsvSource, NdjsonSource } from './import-sources.js';

/** `journeyd devices import` exit codes (docs/import.md). */
export const IMPORT_EXIT = {
  /** Every row was imported. */
  ok: 0,
  /** The import stopped on an unexpected error (the database went away); batches committed before it stay. */
  failed: 1,
  /** Bad arguments, unknown application, unreadable file or unusable CSV header; nothing was written. */
  invalidInput: 2,
  /** The file was imported but some rows were rejected; the summary lists them. */
  rowsRejected: 3,
} as const;

export const DEVICES_IMPORT_USAGE = 'usage: journeyd devices import FILE --app CODE [--format csv|ndjson] [--batch-size N]';

const MAX_BATCH_SIZE = 100_000;
const PROGRESS_EVERY_ROWS = 1000;

export type ImportFormat = 'csv' | 'ndjson';

const FORMAT_BY_EXTENSION: Record<string, ImportFormat> = {
  '.csv': 'csv',
  '.ndjson': 'ndjson',
  '.jsonl': 'ndjson',
};

export interface ImportCommandIo {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
}

/** Bad arguments or an unreadable file, found before the database is opened. */
class ImportUsageError extends Error {}

interface ImportRequest {
  readonly file: string;
  readonly size: number;
  readonly appCode: string;
  readonly format: ImportFormat;
  readonly batchSize: number;
}

/** Runs `journeyd devices import …` and returns the process exit code. */
export async function runDevicesImport(
  args: string[],
  io: ImportCommandIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  let request: ImportRequest;
  try {
    request = readRequest(args);
  } catch (error) {
    if (!(error instanceof ImportUsageError) && !isParseArgsError(error)) throw error;
    io.stderr.write(`journeyd: ${(error as Error).message}\n${DEVICES_IMPORT_USAGE}\n`);
    return IMPORT_EXIT.invalidInput;
  }

  const { store } = await openCommandStore(readConfig().databaseUrl, 'existing', io.stderr);
  try {
    const app = await store.applications.findByCode(request.appCode);
    if (!app) {
      io.stderr.write(`journeyd: no application ${request.appCode}\n`);
      return IMPORT_EXIT.invalidInput;
    }
    const startedAt = Date.now();
    const progress = createImportProgress(io.stderr, request.size);
    try {
      const totals = await importDevicesFile(store, app.id, request, progress);
      progress.stop();
      io.stdout.write(formatSummary(`Imported ${basename(request.file)} into ${app.code}`, totals, Date.now() - startedAt));
      return totals.rejectedCount > 0 ? IMPORT_EXIT.rowsRejected : IMPORT_EXIT.ok;
    } catch (error) {
      progress.stop();
      if (error instanceof ImportFileError) {
        io.stderr.write(`journeyd: ${request.file}: ${error.message}\n`);
        return IMPORT_EXIT.invalidInput;
      }
      if (!(error instanceof ImportInterruptedError)) throw error;
      io.stdout.write(formatSummary(`Import of ${basename(request.file)} stopped`, error.totals, Date.now() - startedAt));
      io.stderr.write(
        `journeyd: import stopped: ${error.message}\n` +
          'the new and updated devices counted above are committed; importing the file again is safe\n',
      );
      return IMPORT_EXIT.failed;
    }
  } finally {
    await store.close();
  }
}

function readRequest(args: string[]): ImportRequest {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { app: { type: 'string' }, format: { type: 'string' }, 'batch-size': { type: 'string' } },
  });
  const [file, ...extra] = positionals;
  if (file === undefined) throw new ImportUsageError('devices import needs a FILE');
  if (extra.length > 0) throw new ImportUsageError(`devices import takes one FILE; also got ${extra.join(' ')}`);
  if (values.app === undefined) throw new ImportUsageError('devices import needs --app CODE');
  if (!isApplicationCode(values.app)) throw new ImportUsageError(`--app must look like XXXXX-XXXXX, got "${values.app}"`);

  const format = values.format ?? FORMAT_BY_EXTENSION[extname(file).toLowerCase()];
  if (format !== 'csv' && format !== 'ndjson') {
    throw new ImportUsageError(
      values.format === undefined
        ? `cannot tell the format of "${file}" from its extension; pass --format csv or --format ndjson`
        : `--format must be csv or ndjson, got "${values.format}"`,
    );
  }

  const batchSize = values['batch-size'] === undefined ? DEFAULT_BATCH_SIZE : Number(values['batch-size']);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new ImportUsageError(`--batch-size must be an integer from 1 to ${MAX_BATCH_SIZE}`);
  }

  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new ImportUsageError(`${file} is not a file`);
    size = stat.size;
  } catch (error) {
    if (error instanceof ImportUsageError) throw error;
    throw new ImportUsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return { file, size, appCode: values.app, format, batchSize };
}

function isParseArgsError(error: unknown): boolean {
  return String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
}

export interface ImportFileOptions {
  readonly file: string;
  readonly format: ImportFormat;
  readonly batchSize?: number;
}

/** An import that stopped on an unexpected error after committing `totals`. */
export class ImportInterruptedError extends Error {
  constructor(
    readonly totals: ImportTotals,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/**
 * Imports one file into the application. Throws ImportFileError (nothing
 * written) when the file cannot be read as the format, ImportInterruptedError
 * when something else fails mid-way.
 */
export async function importDevicesFile(
  store: Store,
  applicationId: number,
  options: ImportFileOptions,
  progress?: ImportProgress,
): Promise<ImportTotals> {
  const importer = await DeviceImporter.start(store, applicationId, { batchSize: options.batchSize });
  try {
    if (options.format === 'ndjson') await readNdjson(importer, options.file, progress);
    else await readCsv(importer, options.file, progress);
    return await importer.finish();
  } catch (error) {
    if (error instanceof ImportFileError) throw error;
    throw new ImportInterruptedError(importer.totals, error);
  }
}

async function readNdjson(importer: DeviceImporter, file: string, progress: ImportProgress | undefined): Promise<void> {
  const source = new NdjsonSource(file);
  for await (const lines of source.lines()) {
    for (const { line, text } of lines) {
      const pending = importer.add(line, (catalog) => parseNdjsonRow(text, catalog));
      if (pending) await pending;
    }
    progress?.update(importer.rowsRead, source.bytesRead);
  }
}

async function readCsv(importer: DeviceImporter, file: string, progress: ImportProgress | undefined): Promise<void> {
  const source = new CsvSource(file);
  let reader: CsvRowReader | undefined;
  for await (const record of source.records()) {
    if (!reader) {
      if ('error' in record) throw new ImportFileError(`the header row is not valid CSV: ${record.error}`);
      reader = CsvRowReader.fromHeader(record.cells);
      continue;
    }
    if ('error' in record) {
      importer.rejectRecord(record.line, record.error);
    } else {
      const { line, cells } = record;
      const rowReader = reader;
      const pending = importer.add(line, (catalog) => rowReader.parse(cells, catalog));
      if (pending) await pending;
    }
    if (importer.rowsRead % PROGRESS_EVERY_ROWS === 0) progress?.update(importer.rowsRead, source.bytesRead);
  }
  if (!reader) throw new ImportFileError('the file is empty; a CSV import needs a header row');
}

export function formatSummary(title: string, totals: ImportTotals, elapsedMs: number): string {
  const seconds = elapsedMs / 1000;
  const rate = seconds > 0 ? totals.rows / seconds : totals.rows;
  const width = formatCount(totals.rows).length;
  const count = (n: number) => formatCount(n).padStart(width);
  const lines = [
    `${title} in ${seconds.toFixed(1)} s`,
    `  rows      ${count(totals.rows)} (${formatCount(rate)} rows/s)`,
    `  new       ${count(totals.inserted)}`,
    `  updated   ${count(totals.updated)}`,
    `  rejected  ${count(totals.rejectedCount)}`,
  ];
  if (totals.rejected.length > 0) {
    lines.push('Rejected rows:');
    const listed = [...totals.rejected].sort((a, b) => a.line - b.line);
    for (const { line, reason } of listed) lines.push(`  line ${line}: ${reason}`);
    const unlisted = totals.rejectedCount - listed.length;
    if (unlisted > 0) lines.push(`  … and ${formatCount(unlisted)} more`);
  }
  return `${lines.join('\n')}\n`;
}

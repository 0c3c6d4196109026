import Papa from 'papaparse';
import type { DataFile, LoadError } from '../types';
import { asText } from '../parse-util';
import { LineIndex } from './line-index';
import { MAX_LOAD_ERRORS, stopped } from './records';

export interface CsvRow {
  cells: string[];
  /** Line where the row starts (a quoted field may span lines). */
  line: number;
}

/**
 * RFC 4180 CSV through papaparse. With `header`, the first row names the columns and every row must
 * have as many fields. A row papaparse cannot parse (bad quoting) is reported at its first line and
 * parsing restarts on the next line, so one broken quote does not swallow the rest of the file.
 */
export function readCsv(
  file: DataFile,
  { header, columns }: { header: boolean; columns?: number },
): { header: string[] | null; rows: CsvRow[]; errors: LoadError[] } {
  const text = asText(file.text);
  const index = new LineIndex(text);
  const rows: CsvRow[] = [];
  const errors: LoadError[] = [];
  let head: string[] | null = null;
  let expected = columns;
  let offset = 0;
  for (;;) {
    if (offset >= text.length) break;
    if (errors.length >= MAX_LOAD_ERRORS) {
      errors.push(stopped(file.path, index.line(offset)));
      break;
    }
    let restartAt = -1;
    let prevCursor = 0;
    const chunk = text.slice(offset);
    Papa.parse<string[]>(chunk, {
      delimiter: ',',
      newline: '\n',
      step: (result, parser) => {
        const rowStart = offset + prevCursor;
        prevCursor = result.meta.cursor;
        const line = index.line(rowStart);
        if (result.errors.length > 0) {
          errors.push({ file: file.path, line, message: `CSV: ${result.errors[0].message}` });
          const nl = text.indexOf('\n', rowStart);
          restartAt = nl < 0 ? text.length : nl + 1;
          parser.abort();
          return;
        }
        const cells = result.data;
        if (cells.length === 1 && cells[0] === '') return; // blank line
        if (header && head === null) {
          head = cells.map((c) => c.trim());
          expected = head.length;
          return;
        }
        if (expected !== undefined && cells.length !== expected) {
          errors.push({ file: file.path, line, message: `expected ${expected} fields, got ${cells.length}` });
          if (errors.length >= MAX_LOAD_ERRORS) {
            const nl = text.indexOf('\n', rowStart);
            restartAt = nl < 0 ? text.length : nl + 1;
            parser.abort();
          }
          return;
        }
        rows.push({ cells, line });
      },
    });
    if (restartAt < 0) break;
    offset = restartAt;
  }
  if (header && head === null) errors.push({ file: file.path, line: 0, message: 'empty file: no header row' });
  return { header: head, rows, errors };
}

/** CSV rows as objects keyed by the header (the header must hold `required`). */
export function readCsvObjects(
  file: DataFile,
  required: readonly string[],
): { rows: Array<{ row: Record<string, string>; line: number }>; errors: LoadError[] } {
  const { header, rows, errors } = readCsv(file, { header: true });
  if (header === null) return { rows: [], errors };
  const missing = required.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    errors.push({ file: file.path, line: 1, message: `header lacks column(s) ${missing.join(', ')}` });
    return { rows: [], errors };
  }
  return {
    rows: rows.map(({ cells, line }) => ({ row: Object.fromEntries(header.map((h, i) => [h, cells[i]])), line })),
    errors,
  };
}

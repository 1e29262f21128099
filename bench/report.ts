// Plain-text tables for the terminal.

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

export function integer(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';
}

export interface Column {
  title: string;
  /** Text columns are left-aligned, numbers right-aligned. */
  align?: 'left' | 'right';
}

/** Renders rows under a header, each column as wide as its widest cell. */
export class Table {
  private readonly widths: number[];

  constructor(private readonly columns: Column[]) {
    this.widths = columns.map((column) => column.title.length);
  }

  /** A row on its own, padded to the header's widths (for printing as results arrive). */
  row(cells: string[]): string {
    return cells
      .map((cell, i) => {
        const width = Math.max(this.widths[i] ?? 0, cell.length);
        return this.columns[i]?.align === 'left' ? cell.padEnd(width) : cell.padStart(width);
      })
      .join('  ')
      .trimEnd();
  }

  header(): string {
    const titles = this.row(this.columns.map((column) => column.title));
    return `${titles}\n${'-'.repeat(titles.length)}`;
  }

  /** Widens columns so that `cells` fit; call before header() when all rows are known. */
  fit(cells: string[]): void {
    cells.forEach((cell, i) => {
      this.widths[i] = Math.max(this.widths[i] ?? 0, cell.length);
    });
  }
}

/** The median of runs, field by field: every field of a row of numbers; undefined for none. */
export function medianFields<T extends object>(runs: readonly T[]): T | undefined {
  const [first] = runs;
  if (first === undefined) return undefined;
  const row = { ...first };
  for (const key of Object.keys(row) as (keyof T)[]) {
    row[key] = median(runs.map((run) => Number(run[key]))) as T[keyof T];
  }
  return row;
}

/** One target met or not: `PASS|MISS [what] <ratio> [unit] ≥ <bar>` (pass: the ratio reaches the bar, unless told). */
export function check(options: { what?: string; ratio: number; unit?: string; bar: number; pass?: boolean }): string {
  const pass = options.pass ?? options.ratio >= options.bar;
  return [pass ? 'PASS' : 'MISS', options.what, fixed(options.ratio, 2), options.unit, '≥', fixed(options.bar, 2)]
    .filter((part) => part !== undefined && part !== '')
    .join(' ');
}

/** A table's verdict line: `verdict: PASS|MISS <what> <ratio> ≥ <bar>`, then `note` (e.g. the cores). */
export function verdict(options: Parameters<typeof check>[0] & { note?: string }): string {
  return `verdict: ${check(options)}${options.note ?? ''}`;
}

/**
 * The runs of a table by row name: each printed as it arrives, then the median of each row
 * name (in the order first recorded) by `medianOf`.
 */
export class RunTable<Name extends string, Run> {
  private readonly runs = new Map<Name, Run[]>();

  constructor(
    private readonly table: Table,
    private readonly cells: (name: Name, round: string, run: Run) => string[],
    private readonly log: (line?: string) => void,
  ) {}

  header(): void {
    this.log(this.table.header());
  }

  record(name: Name, round: number, run: Run): void {
    this.runs.set(name, [...(this.runs.get(name) ?? []), run]);
    this.log(this.table.row(this.cells(name, String(round), run)));
  }

  /** Prints the median row of each name and returns them. */
  medians(medianOf: (runs: Run[]) => Run | undefined): Map<Name, Run> {
    const medians = new Map<Name, Run>();
    for (const [name, runs] of this.runs) {
      const row = medianOf(runs);
      if (row === undefined) continue;
      medians.set(name, row);
      this.log(this.table.row(this.cells(name, 'median', row)));
    }
    return medians;
  }
}

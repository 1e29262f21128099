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

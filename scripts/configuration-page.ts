// The variable table of docs/configuration.md, generated from the declarations in
// src/config/ (each variable declared once, with its meaning, values and default).
// `npm run docs:config` writes it; test/docs/configuration-page.test.ts fails while the
// committed page differs from what this makes of it.

import type { Variable } from '../src/config/kinds.js';
import { VARIABLES } from '../src/config.js';

/** Where the page is committed. */
export const CONFIGURATION_PAGE = new URL('../docs/configuration.md', import.meta.url);

/** The lines between which the generated table stands; everything around them is written by hand. */
export const TABLE_START = '<!-- Generated from src/config/ by `npm run docs:config`: change the declarations there, not this table. -->';
export const TABLE_END = '<!-- End of the generated table. -->';

/** One Markdown table row per variable, in the order loadConfig reads them. */
export function variableTable(variables: readonly Variable[] = VARIABLES): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const rows = variables.map(
    (variable) => `| \`${variable.name}\` | ${cell(variable.doc)} | ${cell(variable.values)} | ${cell(variable.documentedDefault)} |`,
  );
  return ['| variable | meaning | values | default |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** The page with its generated table replaced by `table`; throws when the page has lost its markers. */
export function withTable(page: string, table: string = variableTable()): string {
  const start = page.indexOf(TABLE_START);
  const end = page.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`docs/configuration.md must hold the lines "${TABLE_START}" and "${TABLE_END}"`);
  return `${page.slice(0, start + TABLE_START.length)}\n\n${table}\n\n${page.slice(end)}`;
}

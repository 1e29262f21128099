// `npm run docs:config`: regenerates the variable table of docs/configuration.md from the
// declarations in src/config/ (see scripts/configuration-page.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIGURATION_PAGE, withTable } from './configuration-page.js';

const page = readFileSync(CONFIGURATION_PAGE, 'utf8');
const updated = withTable(page);
if (updated === page) {
  console.log(`${fileURLToPath(CONFIGURATION_PAGE)} is up to date`);
} else {
  writeFileSync(CONFIGURATION_PAGE, updated);
  console.log(`wrote ${fileURLToPath(CONFIGURATION_PAGE)}`);
}

import { readFileSync } from 'node:fs';
import t from 'tap';
import { CONFIGURATION_PAGE, TABLE_END, TABLE_START, variableTable, withTable } from '../../scripts/configuration-page.js';
import { VARIABLES } from '../../src/config.js';

// docs/configuration.md's variable table is generated from the declarations in src/config/
// by `npm run docs:config`. This fails while the committed page differs from what they
// generate now: a variable added, or its meaning, values or default changed, without the
// page regenerated. (test/config.test.ts checks the table against loadConfig itself.)

t.test('the committed configuration page is what the declarations generate', async (t) => {
  const page = readFileSync(CONFIGURATION_PAGE, 'utf8');
  t.ok(page.includes(TABLE_START) && page.includes(TABLE_END), 'the page has the markers of its generated table');
  t.ok(page === withTable(page), 'docs/configuration.md is up to date (else: npm run docs:config)');
});

t.test('every variable has a row with a meaning and its values', async (t) => {
  const table = variableTable();
  for (const variable of VARIABLES) {
    t.ok(variable.doc.length > 10, `${variable.name} says what it means`);
    t.not(variable.values, '', `${variable.name} says what values it takes`);
    t.notOk(/[\n|]/.test(variable.doc + variable.values + variable.documentedDefault), `${variable.name}: one line, no table syntax`);
    t.ok(table.includes(`| \`${variable.name}\` |`), `${variable.name} has a row`);
  }
});

t.test('a stale table is found, and regenerating fixes it', async (t) => {
  const page = readFileSync(CONFIGURATION_PAGE, 'utf8');
  const stale = page.replace(/^\| `PORT` \|.*$/m, '| `PORT` | the port | 1–2 | `80` |');
  t.not(stale, page, 'the PORT row was changed');
  t.not(withTable(stale), stale, 'a changed row is stale');
  t.equal(withTable(stale), page, 'regenerating it gives the committed page back');
  t.throws(() => withTable('# Configuration\n\nno markers'), /must hold the lines/, 'a page without its markers is refused');
});

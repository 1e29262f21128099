import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

// `npm test` runs only the suites in test/suites/ (see test/README.md), and a suite runs
// only the test files it imports: a test file that no suite imports would never run.

const testRoot = fileURLToPath(new URL('.', import.meta.url));

function testFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return entry.name === 'fixtures' || entry.name === 'suites' ? [] : testFiles(path);
    return /\.test\.tsx?$/.test(entry.name) ? [relative(testRoot, path)] : [];
  });
}

t.test('every test file is run by one suite', async (t) => {
  const suitesFolder = join(testRoot, 'suites');
  const imported = new Map<string, string[]>();
  for (const suite of readdirSync(suitesFolder).filter((name) => name.endsWith('.ts'))) {
    const text = readFileSync(join(suitesFolder, suite), 'utf8');
    for (const [, spec] of text.matchAll(/^import '(\.\.\/[^']+)';$/gm)) {
      const file = relative(testRoot, join(suitesFolder, spec ?? '')).replace(/\.js$/, '.ts');
      imported.set(file, [...(imported.get(file) ?? []), suite]);
    }
  }
  const files = testFiles(testRoot);
  t.ok(files.length > 50, `the search finds the test files (${files.length})`);
  for (const file of files) {
    const suites = imported.get(file) ?? imported.get(file.replace(/\.ts$/, '.tsx')) ?? [];
    t.equal(suites.length, 1, `${file} is run by exactly one suite (${suites.join(', ') || 'none'})`);
  }
  for (const file of imported.keys()) t.ok(files.includes(file), `${file}, imported by a suite, exists`);
});

#!/usr/bin/env bash
# `npm run coverage`: the whole suite with tap's coverage report, for finding untested code
# (no threshold: see test/README.md).
#
# Why not `tap --coverage` on the sources: tsx, which runs the TypeScript for `npm test`,
# hands V8 code whose source maps c8 cannot use, and every file reads as 100 % covered. So
# the sources and tests are compiled with tsc (with source maps) into .coverage-build/,
# beside copies of what the tests read or start by path (drizzle/, the documentation, the
# .ts sources for the tests that spawn `tsx src/...`), and the compiled suites run there.
set -euo pipefail
cd "$(dirname "$0")/.."
build=.coverage-build
rm -rf "$build" .tap/coverage
mkdir -p "$build"
cp -r src test "$build"/
npx tsc -p tsconfig.json --noEmit false --outDir "$build" --sourceMap
for shared in drizzle node_modules README.md docs package.json tsconfig.json; do ln -sfn "../$shared" "$build/$shared"; done
ln -sfn ../../bench/README.md "$build/bench/README.md"
npx tap --no-disable-coverage --allow-incomplete-coverage --node-arg=--enable-source-maps \
  --coverage-report=json-summary --coverage-report=html "$build"/test/suites/*.js
# The figure is for src/ as mapped back to the TypeScript. Left out: the copies in
# .coverage-build/ that spawned processes ran through tsx (see above).
node -e '
const summary = require("./.tap/report/coverage-summary.json");
const root = require("path").resolve("src") + "/";
const total = { lines: [0, 0], statements: [0, 0], functions: [0, 0], branches: [0, 0] };
for (const [file, figures] of Object.entries(summary)) {
  if (!file.startsWith(root)) continue;
  for (const kind of Object.keys(total)) {
    total[kind][0] += figures[kind].covered;
    total[kind][1] += figures[kind].total;
  }
}
console.log("\nCoverage of src/ (report: .tap/report/index.html)");
for (const [kind, [covered, all]] of Object.entries(total)) {
  console.log(`  ${kind.padEnd(10)} ${((100 * covered) / all).toFixed(1).padStart(5)} %  (${covered}/${all})`);
}
'

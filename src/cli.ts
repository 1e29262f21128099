#!/usr/bin/env node

// `portier …` (package.json "bin"): the command line, on the database the environment names.
// `portier serve` (the image's command) goes straight to the server, before the rest of the
// command line is loaded: with tracing on, its hooks must be in place before pg and the app
// are read (tracing/start.ts).
const args = process.argv.slice(2);
if (args.length === 1 && args[0] === 'serve') {
  await (await import('./server.js')).start();
} else {
  process.exitCode = await (await import('./cli/main.js')).main(args);
}

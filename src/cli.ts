#!/usr/bin/env node
import { main } from './cli/main.js';

// `portier …` (package.json "bin"): the command line, on the database the environment names.
process.exitCode = await main(process.argv.slice(2));

// `npm test` runs the test files in a few processes, this one of them: see test/README.md.
import '../docs/configuration-page.test.js';
import '../docs/links.test.js';
import '../docs/quick-start.test.js';

// `npm test` runs the test files in a few processes, this one of them: see test/README.md.
import '../oauth/federated.test.js';

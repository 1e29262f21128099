// `npm test` runs the test files in a few processes, this one of them: see test/README.md.
import '../clients/operator-limits.test.js';
import '../people/operator-limits.test.js';
import '../people/roles.test.js';
import '../people/self-service.test.js';
import '../people/sign-in.test.js';

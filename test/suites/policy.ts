// `npm test` runs the test files in a few processes, this one of them: see test/README.md.
import '../policy/claims.test.js';
import '../policy/hook.test.js';
import '../policy/lifetimes-claims.test.js';
import '../policy/quota.test.js';
import '../policy/usage.test.js';

// `npm test` runs the test files in a few processes, this one of them: see test/README.md.
import '../oauth/interop.test.js';
import '../oauth/introspection.test.js';
import '../oauth/ip-ranges.test.js';
import '../oauth/library-requests.test.js';
import '../oauth/token-cache.test.js';
import '../oauth/token-errors.test.js';
import '../oauth/token-events.test.js';
import '../oauth/token-exchange-actors.test.js';
import '../oauth/token-exchange-interop.test.js';
import '../oauth/token-exchange-issuers.test.js';
import '../oauth/token-exchange.test.js';
import '../oauth/token.test.js';

// `npm test` runs the test files in a few processes, this one of them: see test/README.md.
import '../cli/delegation.test.js';
import '../cli/issuers.test.js';
import '../config-as-code/apply.test.js';
import '../config-as-code/credentials.test.js';
import '../events/credential-notices.test.js';
import '../events/events.test.js';
import '../events/mail.test.js';
import '../events/notices.test.js';
import '../events/webhooks.test.js';

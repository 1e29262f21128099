// `npm test` runs the test files in a few processes, this one of them: see test/README.md.
import '../console/api-types.test.js';
import '../console/console.test.js';
import '../console/federation-forms.test.js';
import '../console/format.test.js';
import '../console/grants.test.js';
import '../console/i18n.test.js';
import '../console/languages.test.js';
import '../console/lifecycle.test.js';
import '../console/policy.test.js';
import '../console/serving.test.js';
import '../console/trusted-issuers.test.js';
import '../console/sso.test.js';

// `npm test` runs the test files in a few processes, this one of them: see test/README.md.
import '../cli.test.js';
import '../cli/config.test.js';
import '../deploy/read-only-root.test.js';
import '../serve.test.js';
import '../tracing/tracing.test.js';
import '../tracing/protobuf.test.js';
import '../events/webhook-tracing.test.js';
import '../docs/configuration-page.test.js';
import '../docs/links.test.js';
import '../docs/quick-start.test.js';

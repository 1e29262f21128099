import t from 'tap';
import { captureLogs } from './helpers.js';

t.test('a failed query logged as an error carries no query parameters', async (t) => {
  const logs = captureLogs();
  const error = Object.assign(new Error('Failed query: insert into "client_secrets" values ($1)\nparams: $argon2id$v=19$secret-hash'), {
    params: ['$argon2id$v=19$secret-hash'],
  });
  logs.logger.error({ err: error }, 'query failed');
  const [line] = logs.lines();
  t.match(logs.text(), /query failed/, 'the line was written (the capture works)');
  t.notMatch(logs.text(), 'secret-hash');
  t.match(line, { err: { message: /^Failed query: insert/ } });
});

t.test('secrets are redacted wherever a developer logs them', async (t) => {
  const logs = captureLogs();
  logs.logger.info({ client_secret: 's1', body: { client_secret: 's2', access_token: 't1' }, authorization: 'Basic xyz' }, 'oops');
  t.match(logs.text(), /oops/, 'the line was written (the capture works)');
  for (const leaked of ['s1', 's2', 't1', 'Basic xyz']) t.notMatch(logs.text(), leaked);
});

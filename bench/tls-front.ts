// A TLS terminator in front of one target of the connection-pattern table
// (bench/connections.ts), run as a child process so that its CPU is counted apart. Each
// client connection gets its own plain TCP connection to the target and the bytes are
// passed through both ways, so the target sees keep-alive and new connections exactly as
// the client made them; only the TLS is done here, the same for every target.
//
//   node --import tsx bench/tls-front.ts <cert.pem> <key.pem> <listen port> <target port>
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const [certFile, keyFile, listenPort, targetPort] = process.argv.slice(2);
if (certFile === undefined || keyFile === undefined || listenPort === undefined || targetPort === undefined) {
  process.stderr.write('usage: tls-front.ts <cert.pem> <key.pem> <listen port> <target port>\n');
  process.exit(2);
}
const LOOPBACK = '127.0.0.1';
/**
 * Upstream connections leave from these in turn: with a new connection per token, the
 * target closes each one and its TIME_WAIT holds the port for a minute, so one source
 * address would run out of ports within seconds.
 */
const SOURCES = Array.from({ length: 16 }, (_, index) => `127.0.2.${index + 1}`);
let next = 0;

const server = tls.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (client) => {
  const upstream = net.connect({ port: Number(targetPort), host: LOOPBACK, localAddress: SOURCES[next++ % SOURCES.length] });
  upstream.setNoDelay(true);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  client.pipe(upstream).pipe(client);
});
server.on('tlsClientError', () => {});
server.listen(Number(listenPort), LOOPBACK, () => process.stdout.write(`tls front on ${LOOPBACK}:${listenPort} → ${targetPort}\n`));
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});

// Child process: the fastify 5 + @fastify/reply-from anchor of issue 7, plain proxying (no auth, no limit) over
// TLS 1.3 to the backend (reply-from uses undici with keep-alive). Input { certPem, keyPem, backend }. Prints { port }.
import Fastify from 'fastify';
import replyFrom from '@fastify/reply-from';

const { certPem, keyPem, backend } = JSON.parse(process.argv[2]);
const app = Fastify({
  logger: false,
  https: { cert: certPem, key: keyPem, minVersion: 'TLSv1.3' },
  keepAliveTimeout: 65_000,
});
await app.register(replyFrom, { base: backend, undici: { connections: 64, pipelining: 1 } });
app.all('/*', (request, reply) => reply.from(request.url));
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(JSON.stringify({ port: app.server.address().port }) + '\n');
process.on('SIGTERM', async () => {
  await app.close();
  process.exit(0);
});

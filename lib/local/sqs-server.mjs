// The SQS emulator (fauxqs) in its own process, so the cluster's event loop does not also serve
// every SQS request. Started by lib/local/services.ts: argv = [port, dataDir?]. Prints
// "afg-sqs-port <port>" once listening; stops when its stdin closes (the parent stopped or died).
//
// Loopback only: startFauxqs has no bind option (its `host` option only names queue URLs; it
// always listens on 0.0.0.0). This process runs nothing else, so every server it opens is made to
// listen on 127.0.0.1, and it exits with an error rather than serve if one ends up elsewhere.
import { Server } from 'node:net';
import { startFauxqs } from 'fauxqs';

const LOOPBACK = '127.0.0.1';
const opened = [];
const listen = Server.prototype.listen;
Server.prototype.listen = function listenOnLoopback(...args) {
  const [first] = args;
  if (first !== null && typeof first === 'object' && first.path === undefined) args[0] = { ...first, host: LOOPBACK };
  else if (typeof first === 'number') args.splice(1, typeof args[1] === 'string' ? 1 : 0, LOOPBACK);
  opened.push(this);
  return listen.apply(this, args);
};

const [port, dataDir] = process.argv.slice(2);
const server = await startFauxqs({ port: Number(port ?? 0), logger: false, ...(dataDir ? { dataDir } : {}) });
const exposed = opened.map((s) => s.address()).filter((a) => a !== null && typeof a === 'object' && a.address !== LOOPBACK);
if (exposed.length > 0) {
  process.stderr.write(`afg-sqs: refusing to serve, listening beyond loopback: ${JSON.stringify(exposed)}\n`);
  process.exit(1);
}
process.stdout.write(`afg-sqs-port ${server.port}\n`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.stop().finally(() => process.exit(0));
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', () => {}); // a terminal Ctrl-C is the parent's to handle

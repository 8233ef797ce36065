// The SQS emulator (fauxqs) in its own process, so the cluster's event loop does not also serve
// every SQS request. Started by lib/local/services.ts:
//   argv = [--data-dir DIR] shared=<port> [<region>=<port> ...]
// `shared` serves every region; each <region> gets a server of its own. Port 0 picks a free port.
// Prints "afg-sqs-port <name> <port>" per server, then "afg-sqs-ready"; stops when its stdin closes
// (the parent stopped or died).
//
// Why one server per region: fauxqs persists queues (and their messages) by queue name alone, so
// same-named queues of different regions (every region has afg-votes) would overwrite each other
// in one data folder and a restart would bring back only one of them. Each region's server keeps
// its own folder (DIR/<region>); the shared one keeps DIR itself.
//
// Loopback only: startFauxqs has no bind option (its `host` option only names queue URLs; it
// always listens on 0.0.0.0). This process runs nothing else, so every server it opens is made to
// listen on 127.0.0.1, and it exits with an error rather than serve if one ends up elsewhere.
import { Server } from 'node:net';
import { join } from 'node:path';
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

const args = process.argv.slice(2);
let dataDir;
const wanted = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--data-dir') dataDir = args[++i];
  else {
    const m = /^([a-z0-9-]+)=(\d+)$/.exec(args[i]);
    if (!m) {
      process.stderr.write(`afg-sqs: bad argument ${JSON.stringify(args[i])} (expected <name>=<port>)\n`);
      process.exit(2);
    }
    wanted.push({ name: m[1], port: Number(m[2]) });
  }
}
const servers = [];
for (const { name, port } of wanted) {
  const dir = dataDir === undefined ? undefined : name === 'shared' ? dataDir : join(dataDir, name);
  const server = await startFauxqs({ port, logger: false, ...(dir ? { dataDir: dir } : {}) });
  servers.push(server);
  process.stdout.write(`afg-sqs-port ${name} ${server.port}\n`);
}
const exposed = opened.map((s) => s.address()).filter((a) => a !== null && typeof a === 'object' && a.address !== LOOPBACK);
if (exposed.length > 0) {
  process.stderr.write(`afg-sqs: refusing to serve, listening beyond loopback: ${JSON.stringify(exposed)}\n`);
  process.exit(1);
}
process.stdout.write('afg-sqs-ready\n');
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  Promise.allSettled(servers.map((s) => s.stop())).finally(() => process.exit(0));
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', () => {}); // a terminal Ctrl-C is the parent's to handle

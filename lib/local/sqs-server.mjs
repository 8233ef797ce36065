// The SQS emulator (fauxqs) in its own process, so the cluster's event loop does not also serve
// every SQS request. Started by lib/local/services.ts: argv = [port, dataDir?]. Prints
// "afg-sqs-port <port>" once listening; stops when its stdin closes (the parent stopped or died).
import { startFauxqs } from 'fauxqs';

const [port, dataDir] = process.argv.slice(2);
const server = await startFauxqs({ port: Number(port ?? 0), logger: false, ...(dataDir ? { dataDir } : {}) });
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

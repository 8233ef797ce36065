/**
 * CDK entry point. Run by the CDK CLI (cdk.json: `npx tsx cdk/app.ts`) or directly, offline and without
 * credentials: `tsx cdk/app.ts [-c key=value ...]` writes the cloud assembly to ./cdk.out. Context:
 *   -c config=<path>               cluster config JSON (default cdk/clusters/example.json)
 *   -c account=<12 digits>         pin the account (default: resolved by CloudFormation at deploy time)
 *   -c deletionProtection=false    dev clusters only: tables, key shares and logs go with `cdk destroy`
 *   -c alarmTopicName=<name>       SNS topic, in each region, that the alarms notify
 *   -c maxStreams=<n>              finality streams each region serves at once (stream function reserved concurrency, default 50)
 *   -c requestsPerIpPerMinute=<n>  requests one client address may send to a region's API in a minute before WAF answers
 *                                  429 (default 1200)
 *   -c peerApiUrls=<json>          {"<region>": "<ApiUrl output>", ...}: each state function's catch-up peers and each
 *                                  follower region's peers to follow (second deploy)
 * A region of the config that hosts no member is deployed as a follower region (no key share, no validator,
 * no finalizer; a scheduled follower function learns finality from the peers: cdk/region-stack.ts).
 */
import { App } from 'aws-cdk-lib';
import { buildApp } from './build-app.js';
import { loadClusterConfig } from './config.js';

/** `-c key=value` / `--context key=value` pairs from argv (when run without the CLI, which passes context itself). */
function argvContext(argv: readonly string[]): Record<string, string> {
  const context: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag !== '-c' && flag !== '--context') throw new Error(`unknown argument ${flag}: expected -c key=value`);
    const pair = argv[++i] ?? '';
    const eq = pair.indexOf('=');
    if (eq < 1) throw new Error(`${flag} ${pair}: expected key=value`);
    context[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return context;
}

// Under the CLI, CDK_OUTDIR names the output directory; run directly, write where the CLI would.
const app = new App({ context: argvContext(process.argv.slice(2)), ...(process.env.CDK_OUTDIR ? {} : { outdir: 'cdk.out' }) });
const ctx = (key: string): string | undefined => {
  const v: unknown = app.node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return undefined;
  return typeof v === 'object' ? JSON.stringify(v) : String(v); // objects come from cdk.json context
};
const protection = ctx('deletionProtection');
if (protection !== undefined && protection !== 'true' && protection !== 'false') {
  throw new Error(`context deletionProtection: expected true or false, got ${protection}`);
}
const account = ctx('account');
if (account !== undefined && !/^\d{12}$/.test(account)) throw new Error(`context account: expected 12 digits, got ${account}`);
const peers = ctx('peerApiUrls');
let peerApiUrls: Record<string, string> | undefined;
if (peers !== undefined) {
  try {
    peerApiUrls = JSON.parse(peers) as Record<string, string>;
  } catch {
    throw new Error('context peerApiUrls: expected a JSON object {"<region>": "<url>"}');
  }
  if (typeof peerApiUrls !== 'object' || peerApiUrls === null || Array.isArray(peerApiUrls)) {
    throw new Error('context peerApiUrls: expected a JSON object {"<region>": "<url>"}');
  }
}
const maxStreams = ctx('maxStreams');
if (maxStreams !== undefined && !/^[1-9][0-9]*$/.test(maxStreams))
  throw new Error(`context maxStreams: expected a positive integer, got ${maxStreams}`);
const perIp = ctx('requestsPerIpPerMinute');
if (perIp !== undefined && !/^[1-9][0-9]*$/.test(perIp))
  throw new Error(`context requestsPerIpPerMinute: expected a positive integer, got ${perIp}`);
buildApp({
  app,
  config: loadClusterConfig(ctx('config') ?? 'cdk/clusters/example.json'),
  account,
  deletionProtection: protection !== 'false',
  peerApiUrls,
  alarmTopicName: ctx('alarmTopicName'),
  maxStreams: maxStreams === undefined ? undefined : Number(maxStreams),
  requestsPerIpPerMinute: perIp === undefined ? undefined : Number(perIp),
});
app.synth();

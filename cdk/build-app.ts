/**
 * Builds the CDK app: one RegionStack per region of the cluster config, checked by cdk-nag's
 * AwsSolutions rules (an unsuppressed finding is a synth error).
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { ClusterConfig } from '../lib/config.js';
import { stackName } from './config.js';
import { RegionStack } from './region-stack.js';

export interface BuildAppOptions {
  readonly config: ClusterConfig;
  /** Account to deploy to; default: left to CloudFormation (AWS::AccountId), so synth needs no credentials. */
  readonly account?: string;
  /** See RegionStackProps.deletionProtection. Default true. */
  readonly deletionProtection?: boolean;
  /** See RegionStackProps.peerApiUrls. */
  readonly peerApiUrls?: Readonly<Record<string, string>>;
  /** See RegionStackProps.alarmTopicName. */
  readonly alarmTopicName?: string;
  /** See RegionStackProps.maxStreams. */
  readonly maxStreams?: number;
  /** See RegionStackProps.requestsPerIpPerMinute. */
  readonly requestsPerIpPerMinute?: number;
  /** Run cdk-nag AwsSolutionsChecks. Default true. */
  readonly nag?: boolean;
  /** An existing App (e.g. one carrying CLI context); default a new one. */
  readonly app?: App;
}

/**
 * @returns the app and its stacks, keyed by region
 * @throws Error (from RegionStack and the constructs) when a prop is invalid
 * @example const { app, stacks } = buildApp({ config: loadClusterConfig('cdk/clusters/example.json') }); app.synth();
 */
export function buildApp(options: BuildAppOptions): { app: App; stacks: Map<string, RegionStack> } {
  const app = options.app ?? new App();
  const stacks = new Map<string, RegionStack>();
  for (const region of options.config.regions) {
    const name = stackName(options.config.prefix, region);
    stacks.set(
      region,
      new RegionStack(app, name, {
        stackName: name,
        description: `afg ${options.config.prefix}: finality gadget site in ${region}`,
        config: options.config,
        region,
        env: { account: options.account, region },
        deletionProtection: options.deletionProtection,
        peerApiUrls: options.peerApiUrls,
        alarmTopicName: options.alarmTopicName,
        maxStreams: options.maxStreams,
        requestsPerIpPerMinute: options.requestsPerIpPerMinute,
      }),
    );
  }
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stacks };
}

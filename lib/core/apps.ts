/**
 * The applications a chain can run, by config name. A new transaction type is one module with an
 * ApplicationDefinition, listed here; the pipeline, the sequencer and the API need nothing else.
 */
import { transferApplication } from './ledger.js';
import { registryApplication } from './registry.js';
import type { ApplicationDefinition } from './state-machine.js';

export const APPLICATIONS: Readonly<Record<string, ApplicationDefinition>> = {
  transfer: transferApplication as ApplicationDefinition,
  registry: registryApplication as ApplicationDefinition,
};

export type ApplicationName = keyof typeof APPLICATIONS;

/** The definition named `name`, or undefined. */
export const applicationNamed = (name: string): ApplicationDefinition | undefined =>
  Object.hasOwn(APPLICATIONS, name) ? APPLICATIONS[name] : undefined;

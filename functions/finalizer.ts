// Placeholder until the finalizer role lands (issue 3/4); the CDK app bundles this path.
export const handler = async (): Promise<never> => {
  throw new Error('finalizer handler not built yet');
};

// Placeholder until the api role lands (issue 3/4); the CDK app bundles this path.
export const handler = async (): Promise<never> => {
  throw new Error('api handler not built yet');
};

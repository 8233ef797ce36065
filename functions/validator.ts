// Placeholder until the validator role lands (issue 3/4); the CDK app bundles this path.
export const handler = async (): Promise<never> => {
  throw new Error('validator handler not built yet');
};

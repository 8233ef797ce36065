#!/usr/bin/env node
// The `afg` command. It runs the TypeScript sources through tsx's module loader, so `npx afg`
// works on a fresh clone after `npm ci`, with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../lib/cli/main.ts');
await main();

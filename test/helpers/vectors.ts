/** Loads the shared test vectors (../shared/vectors, beside the repository, as in CI). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const VECTORS_DIR = fileURLToPath(new URL('../../../shared/vectors/', import.meta.url));

export function loadVectors<T = any>(file: string): T {
  return JSON.parse(readFileSync(VECTORS_DIR + file, 'utf8')) as T;
}

export const contract = () => loadVectors('afg-contract-vectors.json');

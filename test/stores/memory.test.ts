/** The store contract against the in-memory implementations (lib/pipeline/memory.ts). */
import { MemoryNodeStore } from '../../lib/core/smt.js';
import {
  MemoryAppliedStore,
  MemoryBlockStore,
  MemoryFinalityStore,
  MemorySequencerStore,
  MemorySlashingProtectionStore,
} from '../../lib/pipeline/memory.js';
import { checkpoint, describeStoreContract } from './contract.js';

describeStoreContract('memory', async () => {
  const genesis = checkpoint(0);
  return {
    genesis,
    blocks: new MemoryBlockStore(),
    sequencer: new MemorySequencerStore(),
    protection: new MemorySlashingProtectionStore(),
    finality: new MemoryFinalityStore(genesis),
    applied: new MemoryAppliedStore(),
    nodes: new MemoryNodeStore(),
  };
});

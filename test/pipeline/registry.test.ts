/**
 * A second application end to end: the key-value registry runs through the same region runtime,
 * queue handlers, sequencer, validators, finalizers and state function as transfers, and is served
 * over real HTTP by the same API (its request schema and state route come from its definition).
 * Nothing in lib/pipeline or lib/api knows the registry.
 */
import { describe, expect, it } from 'vitest';
import { createApi } from '../../lib/api/app.js';
import { startApiServer } from '../../lib/api/node-server.js';
import { deal } from '../../lib/core/bls.js';
import { ascii, concatBytes, fromHex, toHex } from '../../lib/core/bytes.js';
import { devSecretKey } from '../../lib/core/chain.js';
import { ed25519PublicKey } from '../../lib/core/ed25519.js';
import { entryKey, registryApplication, signRegistration } from '../../lib/core/registry.js';
import { decodeProof, verifyProof } from '../../lib/core/smt.js';
import { verifyCertificate } from '../../lib/core/verifier.js';
import { MemoryCluster } from '../../lib/sim/memory-cluster.js';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-northeast-1', 'sa-east-1'];

describe('the registry application end to end', () => {
  it('accepts registrations over HTTP, finalizes them in every region and serves proven entries', async () => {
    const cluster = await MemoryCluster.create({ regions: REGIONS, seed: 3, dealing: deal(4, 3), application: registryApplication });
    const home = cluster.node(REGIONS[0]!);
    const api = createApi({
      query: home.query,
      transport: cluster.transport,
      chain: home.chain,
      application: registryApplication,
      maxLagBlocks: 50,
    });
    const server = await startApiServer(api, { port: 0, host: '127.0.0.1' });
    try {
      const post = (body: unknown) =>
        fetch(`${server.url}/v1/transactions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const codec = registryApplication.codec(cluster.set.chainId);
      const alpha = signRegistration(cluster.set.chainId, devSecretKey(0), { key: ascii('alpha'), value: ascii('first'), nonce: 0n });
      const beta = signRegistration(cluster.set.chainId, devSecretKey(0), { key: ascii('beta'), value: ascii('second'), nonce: 1n });
      for (const r of [alpha, beta]) {
        const res = await post(codec.toJson(r));
        expect(res.status).toBe(202);
        expect((await res.json()).hash).toBe(toHex(codec.hash(r)));
      }
      // The application's own schema and admission apply at the edge.
      const malformed = await post({ ...codec.toJson(alpha), key: 'zz' });
      expect(malformed.status).toBe(400);
      await cluster.run();
      const taken = await post(
        codec.toJson(signRegistration(cluster.set.chainId, devSecretKey(1), { key: ascii('alpha'), value: ascii('x'), nonce: 0n })),
      );
      expect(taken.status).toBe(400);
      expect((await taken.json()).error.code).toBe('KEY_TAKEN');

      // Every region finalized and applied the same state.
      const finality = await Promise.all(REGIONS.map((r) => cluster.node(r).query.finality()));
      expect(new Set(finality.map((f) => f.applied.stateRoot)).size).toBe(1);

      // The state route comes from the registry's definition; its answer verifies with the group key alone.
      const res = await fetch(`${server.url}/v1/entries/${toHex(ascii('alpha'))}`);
      expect(res.status).toBe(200);
      const entry = await res.json();
      expect(entry).toMatchObject({
        key: toHex(ascii('alpha')),
        owner: toHex(ed25519PublicKey(devSecretKey(0))),
        value: toHex(ascii('first')),
      });
      const cert = verifyCertificate(entry.certificate, {
        groupPublicKey: cluster.set.groupPublicKey,
        chainId: cluster.set.chainId,
        checkpointInterval: 1,
      });
      expect(cert.ok).toBe(true);
      const stateRoot = fromHex(entry.stateRoot, 32, 'stateRoot');
      if (cert.ok) expect(toHex(cert.certificate.source.stateRoot)).toBe(entry.stateRoot);
      const value = concatBytes(ed25519PublicKey(devSecretKey(0)), ascii('first'));
      expect(verifyProof(stateRoot, entryKey(ascii('alpha')), value, decodeProof(entry.proof))).toBe(true);
      // The transfer route does not exist on a registry chain.
      expect((await fetch(`${server.url}/v1/accounts/${'ab'.repeat(32)}`)).status).toBe(404);
      // The OpenAPI document describes the registry's route and body.
      const doc = await (await fetch(`${server.url}/v1/openapi.json`)).json();
      expect(Object.keys(doc.paths)).toContain('/v1/entries/{keyHex}');
      expect(doc.components.schemas.Transaction.required).toEqual(['owner', 'key', 'value', 'nonce', 'signature']);
    } finally {
      await server.close();
    }
  }, 120_000);
});

// An in-memory network of reference peers: js-client's ephemeral network, where every peer is a
// js-client FluencePeer running the reference AquaVM (wasm) with js-client's builtin services,
// all connected with each other, plus a client peer connected to peer 0 only (its relay).
//
// js-client exports neither the ephemeral network nor its client from the package root, so they
// are imported from the package's dist files.

import { identity, CLIENT_INDEX } from "./keys.mjs";

const dist = new URL(".", import.meta.resolve("@fluencelabs/js-client"));
const load = (file) => import(new URL(file, dist).href);

const [{ EphemeralNetwork }, { EphemeralNetworkClient }, { DEFAULT_CONFIG }, keypair, marine, worker] =
  await Promise.all([
    load("ephemeral/network.js"),
    load("ephemeral/client.js"),
    load("jsPeer/FluencePeer.js"),
    load("keypair/index.js"),
    load("marine/loader.js"),
    load("marine/worker/index.js"),
  ]);

/**
 * Starts `peers` peers and a client with the keys of `seed`. Returns the peer ids (relay
 * first), the client's id, the client (a FluencePeer), and `stop()`.
 */
export async function startNetwork({ peers, seed, ttl }) {
  const identities = Array.from({ length: peers }, (_, index) => identity(seed, index));
  const network = new EphemeralNetwork({ peers: identities });
  await network.up();

  const clientIdentity = identity(seed, CLIENT_INDEX);
  const clientKeys = await keypair.fromBase64Sk(clientIdentity.sk);
  const client = new EphemeralNetworkClient(
    { ...DEFAULT_CONFIG, defaultTtlMs: ttl },
    clientKeys,
    await startMarine(),
    network,
    identities[0].peerId,
  );
  await client.start();
  if (client.getPeerId() !== clientIdentity.peerId) {
    throw new Error(`the client's peer id ${client.getPeerId()} is not ${clientIdentity.peerId}`);
  }

  return {
    peerIds: identities.map((peer) => peer.peerId),
    clientId: clientIdentity.peerId,
    client,
    stop: async () => {
      await client.stop();
      await network.down();
    },
  };
}

/** A marine host (a worker thread with AquaVM loaded) for the client. */
async function startMarine() {
  // Under node the wasm files come from the installed packages; the CDN address is unused.
  const deps = await marine.loadMarineDeps("/");
  return new worker.MarineBackgroundRunner(...deps);
}

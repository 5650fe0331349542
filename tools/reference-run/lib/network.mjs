// An in-memory network of reference peers: js-client's ephemeral network, where every peer is a
// js-client FluencePeer running the reference AquaVM (wasm) with js-client's builtin services,
// all connected with each other, plus a client peer connected to peer 0 only (its relay).
//
// js-client exports neither the ephemeral network nor its client from the package root, so they
// are imported from the package's dist files.

import { fromBase64Sk } from "@fluencelabs/js-client";
import { identity, CLIENT_INDEX } from "./keys.mjs";

const dist = new URL(".", import.meta.resolve("@fluencelabs/js-client"));
const load = (file) => import(new URL(file, dist).href);

const [{ EphemeralNetwork }, { EphemeralNetworkClient }, { DEFAULT_CONFIG }, marine, worker] =
  await Promise.all([
    load("ephemeral/network.js"),
    load("ephemeral/client.js"),
    load("jsPeer/FluencePeer.js"),
    load("marine/loader.js"),
    load("marine/worker/index.js"),
  ]);

/**
 * The identities (`{ sk, peerId }`) of a network's peers, relay first, and of its client: the
 * keys of `seed`, so known before anything starts.
 */
export function networkIdentities({ peers, seed }) {
  return {
    peers: Array.from({ length: peers }, (_, index) => identity(seed, index)),
    client: identity(seed, CLIENT_INDEX),
  };
}

/**
 * Starts the peers and the client of `identities` (see `networkIdentities`); particles live
 * `ttl` ms. Returns the client (a FluencePeer), every FluencePeer (`all`: the servers, relay
 * first, then the client), `stop()`, and faults: `stopPeer(id)` cuts a server's links (it
 * neither receives nor sends; particles for it are lost), `restartPeers()` restores them.
 */
export async function startNetwork(identities, ttl) {
  const network = new EphemeralNetwork({ peers: identities.peers });
  await network.up();

  const clientKeys = await fromBase64Sk(identities.client.sk);
  const client = new EphemeralNetworkClient(
    { ...DEFAULT_CONFIG, defaultTtlMs: ttl },
    clientKeys,
    await startMarine(),
    network,
    identities.peers[0].peerId,
  );
  await client.start();
  // The network itself checks the peers' ids against their keys; this checks the client's.
  if (client.getPeerId() !== identities.client.peerId) {
    throw new Error(`the client's peer id is ${client.getPeerId()}, not ${identities.client.peerId}`);
  }

  const servers = identities.peers.map(({ peerId }) => network.peers.get(peerId));
  // The links each stopped peer had, to restore on restart.
  const cut = new Map();
  return {
    client,
    all: [...servers, client],
    stopPeer: (peerId) => {
      const peer = network.peers.get(peerId);
      if (peer === undefined) throw new Error(`no peer ${peerId} to stop`);
      const connection = peer.ephemeralConnection;
      if (!cut.has(peerId)) cut.set(peerId, [...connection.connections.values()]);
      connection.disconnectFromAll();
    },
    restartPeers: () => {
      for (const [peerId, others] of cut) {
        const connection = network.peers.get(peerId).ephemeralConnection;
        others.forEach((other) => connection.connectToOther(other));
      }
      cut.clear();
    },
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

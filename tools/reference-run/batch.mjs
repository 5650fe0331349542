#!/usr/bin/env node
// Many calls in one process: the reference side of the differential tests. Starting node,
// loading the compiler and js-client, and starting a network cost about 2 s, which a test
// of a hundred functions cannot pay per call. See README.md, "Batches".
//
// Reads one JSON request per line on stdin and answers each, in order, with one JSON line on
// stdout. A request:
//
//   {"file": "x.aqua", "function": "f", "args": {"name": value, ...},
//    "peers": 3, "seed": 0, "ttl": 5000, "imports": ["dir", ...],
//    "services": [{"peer": "<peer id>" | null, "service": "s", "function": "f" | null,
//                  "behaviour": {"ok": value} | ...}, ...]}
//
// Only "file" and "function" are required. Services are mock rules, most specific first
// (lib/mocks.mjs has the behaviours); they are asked before the peers' builtins. An arrow
// argument of the function has no value in "args": mock rules on the client answer its
// `callbackSrv.<name>` calls. Every call gets a fresh set of mocks and a network with all its
// peers running; networks are started once per (peers, seed) and kept.
//
// An answer: {"result", "error", "peers", "client"} as run.mjs prints it, plus the call's
// wall time "ms" and "window", its start and end in ms since the Unix epoch (to recognise
// times in results); or {"problem": "..."} when the request cannot run (bad request, compile
// error, unknown function).

import { createInterface } from "node:readline";
import { compileFile, pickFunction } from "./lib/compile.mjs";
import { installMocks, Mocks } from "./lib/mocks.mjs";
import { networkIdentities, startNetwork } from "./lib/network.mjs";
import { call } from "./lib/run.mjs";

const compiled = new Map();
const networks = new Map();
let mocks = null;

async function functionOf(file, name, imports) {
  const key = JSON.stringify([file, imports]);
  if (!compiled.has(key)) compiled.set(key, compileFile(file, imports));
  return pickFunction(await compiled.get(key), file, name);
}

async function networkOf(peers, seed) {
  const key = `${peers} ${seed}`;
  if (!networks.has(key)) {
    const identities = networkIdentities({ peers, seed });
    networks.set(
      key,
      startNetwork(identities, 7000).then((network) => {
        installMocks(network.all, () => mocks);
        return { ...network, identities };
      }),
    );
  }
  return networks.get(key);
}

async function answer(request) {
  const { file, function: name, args = {}, peers = 3, seed = 0, ttl = 5000 } = request;
  const imports = request.imports ?? [];
  if (typeof file !== "string" || typeof name !== "string") {
    return { problem: "a request needs a file and a function" };
  }
  const fn = await functionOf(file, name, imports);
  const network = await networkOf(peers, BigInt(seed));
  network.restartPeers();
  mocks = new Mocks(request.services ?? [], { stop: network.stopPeer });
  const domain = fn.def.arrow.domain;
  const params = domain.tag === "nil" ? [] : Object.entries(domain.fields);
  const values = params.map(([param, type]) => {
    if (type.tag === "arrow") {
      return () => {
        throw new Error(`no mock serves the arrow argument ${param}`);
      };
    }
    if (!Object.hasOwn(args, param)) throw new Error(`no value for argument ${param}`);
    return args[param];
  });
  const started = performance.now();
  const startedAt = Date.now();
  const outcome = await call(network.client, fn, values, ttl);
  const endedAt = Date.now();
  const ms = performance.now() - started;
  mocks = null;
  return {
    ...outcome,
    peers: network.identities.peers.map((peer) => peer.peerId),
    client: network.identities.client.peerId,
    ms,
    window: [startedAt, endedAt],
  };
}

async function main() {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    let output;
    try {
      output = await answer(JSON.parse(line));
    } catch (e) {
      output = { problem: e instanceof Error ? e.message : String(e) };
    }
    process.stdout.write(JSON.stringify(output) + "\n");
  }
  for (const network of networks.values()) await (await network).stop();
}

// js-client may leave timers behind after the networks stop; the batch is over, so exit.
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e?.stack ?? e);
    process.exit(1);
  },
);

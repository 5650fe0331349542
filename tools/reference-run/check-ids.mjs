#!/usr/bin/env node
// Prints the peer ids of a seed's keys (peers 0..N-1, then the client) as lib/keys.mjs computes
// them with node's crypto and as js-client's KeyPair (libp2p) computes them, and exits 1 if they
// differ. Compare its output with runtime-node's `KeyPair::from_seed(seed, i).peer_id()`.
//
// Usage: node check-ids.mjs [--seed S] [--peers N]

import { fromBase64Sk } from "@fluencelabs/js-client";
import { CLIENT_INDEX, identity } from "./lib/keys.mjs";
import { UsageError, parseInteger, parseSeed } from "./lib/cli.mjs";

async function main() {
  const { seed, peers } = parseOptions(process.argv.slice(2));
  const indexes = [...Array.from({ length: peers }, (_, i) => i), CLIENT_INDEX];
  let mismatches = 0;
  for (const index of indexes) {
    const ours = identity(seed, index);
    const theirs = (await fromBase64Sk(ours.sk)).getPeerId();
    const same = ours.peerId === theirs;
    if (!same) mismatches++;
    const label = index === CLIENT_INDEX ? "client" : `peer ${index}`;
    console.log(`${label}\t${ours.peerId}\t${same ? "ok" : `js-client says ${theirs}`}`);
  }
  return mismatches === 0 ? 0 : 1;
}

/** --seed and --peers, with run.mjs's defaults. */
function parseOptions(argv) {
  const options = { seed: 0n, peers: 3 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    if (flag === "--seed") options.seed = parseSeed(value);
    else if (flag === "--peers") options.peers = parseInteger(flag, value, 1, 1000);
    else throw new UsageError(`unknown option ${flag}`);
  }
  return options;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    if (e instanceof UsageError) {
      console.error(`check-ids.mjs: ${e.message}\nusage: node check-ids.mjs [--seed S] [--peers N]`);
      process.exit(2);
    }
    console.error(e?.stack ?? e);
    process.exit(1);
  },
);

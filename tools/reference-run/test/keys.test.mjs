// The derivation must give runtime-node's ids: these were printed by
// `runtime_node::KeyPair::from_seed(seed, i).peer_id()`.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CLIENT_INDEX, identity, secretKey } from "../lib/keys.mjs";

const RUST_IDS = [
  [0n, 0, "12D3KooWGnVNMW3VoH5YXZT2B62Na5fLHnf1Q3Xck1D8ndKv8KZq"],
  [0n, 1, "12D3KooWDdLUPjU26dTYaHxGZVErvsqrS43zrwaGRb3k1NTwcw1f"],
  [0n, 2, "12D3KooWNxpcPU9vGseh5uskRMkm2PtXrFuaprLJgwbUBAz7R8Fw"],
  [0n, CLIENT_INDEX, "12D3KooWPTLsJzkJYDnvGxnnTouny19aeFSgUi6sRsx9ByiWwzKo"],
  [1n, 0, "12D3KooWPGYFyhN7nCNf3Bqu4vcLpZchDbhkmW97PpPf3cnws83V"],
  [42n, CLIENT_INDEX, "12D3KooWFHNbi5UxtJxGr7SapdLx89LkZANFQd5vQTzdrx6Lzgni"],
];

test("peer ids agree with runtime-node's KeyPair::from_seed", () => {
  for (const [seed, index, expected] of RUST_IDS) {
    assert.equal(identity(seed, index).peerId, expected, `seed ${seed}, index ${index}`);
  }
});

test("seeds and indexes outside u64 and u32 are refused", () => {
  assert.throws(() => secretKey(-1n, 0), RangeError);
  assert.throws(() => secretKey(1n << 64n, 0), RangeError);
  assert.throws(() => secretKey(0n, CLIENT_INDEX + 1), RangeError);
  assert.equal(secretKey((1n << 64n) - 1n, CLIENT_INDEX).length, 32);
});

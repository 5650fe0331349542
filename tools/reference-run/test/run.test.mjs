// End to end: run.mjs on the examples, in fresh processes as users run it.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL("..", import.meta.url));

function run(...args) {
  const child = spawnSync(process.execPath, ["run.mjs", ...args], { cwd: here, encoding: "utf8" });
  const lines = child.stdout.split("\n").filter((line) => line !== "");
  return { status: child.status, lines, stderr: child.stderr };
}

test("a call on other peers returns its values and names the network", () => {
  const { status, lines } = run("examples/peers.aqua", "-f", "visit(PEERS)", "--seed", "1");
  assert.equal(status, 0);
  assert.equal(lines.length, 1);
  const output = JSON.parse(lines[0]);
  assert.deepEqual(Object.keys(output), ["result", "error", "peers", "client"]);
  assert.deepEqual(output.peers, [
    "12D3KooWPGYFyhN7nCNf3Bqu4vcLpZchDbhkmW97PpPf3cnws83V",
    "12D3KooWSVYNdjhsqWs5TnytVy8NzEaWdKoknhhKATgmuY98cTY9",
    "12D3KooWKgAgxjBnn3Eaw1uAUD6rPodAmHLuSjzW68WZT6s8Zrfg",
  ]);
  assert.equal(output.client, "12D3KooWJoaE3PRG1pcQLsumseGTmiFGU6oikQUcvWySPk2bBPSi");
  const visited = `${output.peers[1]} was here`;
  assert.deepEqual(output.result, [visited, 3, visited]);
  assert.equal(output.error, null);
});

test("an Aqua error is reported in the JSON line, exit 1", () => {
  const { status, lines } = run("examples/errors.aqua", "-f", "no_service()");
  assert.equal(status, 1);
  const output = JSON.parse(lines[0]);
  assert.equal(output.result, null);
  assert.match(output.error, /^Local service error, ret_code is 1, .*serviceId='nowhere'/);
});

test("a mistyped argument is a usage error, exit 2, before anything runs", () => {
  const { status, lines, stderr } = run("examples/hello.aqua", "-f", "hello(1)");
  assert.equal(status, 2);
  assert.deepEqual(lines, []);
  assert.match(stderr, /argument name does not fit its type/);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError, parseArgs, parseCall, resolveArguments } from "../lib/cli.mjs";

test("a call's arguments are JSON literals or names", () => {
  assert.deepEqual(parseCall('f("a, b", [1, {"k": ")"}], true, PEERS, x_1)'), {
    name: "f",
    args: [
      { value: "a, b" },
      { value: [1, { k: ")" }] },
      { value: true },
      { name: "PEERS" },
      { name: "x_1" },
    ],
  });
  assert.deepEqual(parseCall("  g ( ) "), { name: "g", args: [] });
  assert.deepEqual(parseCall('h("\\"", null)').args, [{ value: '"' }, { value: null }]);
});

test("malformed calls are usage errors", () => {
  for (const bad of ["f", "f(", "(1)", "f(1) x", "f(1,)", "f('a')", "f(1 2)"]) {
    assert.throws(() => parseCall(bad), UsageError, bad);
  }
});

test("names come from the data, then PEERS", () => {
  const args = parseCall("f(PEERS, a)").args;
  assert.deepEqual(resolveArguments(args, { a: 1 }, ["p0"]), [["p0"], 1]);
  assert.deepEqual(resolveArguments(args, { a: 1, PEERS: 2 }, ["p0"]), [2, 1]);
  assert.throws(() => resolveArguments(args, {}, ["p0"]), /unknown argument name a/);
});

test("options and their defaults", () => {
  const options = parseArgs(["x.aqua", "-f", "f()", "--json", "-I", "a", "-I", "b"]);
  assert.equal(options.peers, 3);
  assert.equal(options.seed, 0n);
  assert.equal(options.timeout, 7000);
  assert.deepEqual(options.imports, ["a", "b"]);
  const seeded = parseArgs(["--seed", "18446744073709551615", "--peers", "5", "x.aqua", "-f", "f()"]);
  assert.equal(seeded.seed, (1n << 64n) - 1n);
  assert.equal(seeded.peers, 5);
  for (const bad of [
    [],
    ["x.aqua"],
    ["-f", "f()"],
    ["x.aqua", "y.aqua", "-f", "f()"],
    ["x.aqua", "-f", "f()", "--peers", "0"],
    ["x.aqua", "-f", "f()", "--seed", "18446744073709551616"],
    ["x.aqua", "-f", "f()", "--timeout"],
    ["x.aqua", "-f", "f()", "--nope"],
  ]) {
    assert.throws(() => parseArgs(bad), UsageError, bad.join(" "));
  }
});

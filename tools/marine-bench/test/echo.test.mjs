// The benchmarks' echo module (marine/benches/echo.wasm, written by our IT encoder) runs on
// marine-js: its adapters are the ones the SDK's generator writes, and marine-js runs them.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { call, controlBytes, startService } from "../lib.mjs";

const echo = readFileSync(new URL("../../../marine/benches/echo.wasm", import.meta.url));

test("marine-js echoes strings and byte arrays through the module", async () => {
  const control = await WebAssembly.compile(controlBytes());
  const service = await startService(control, [["echo", echo]]);
  assert.equal(call(service, "echo_string", ["héllo"]), "héllo");
  assert.equal(call(service, "echo_string", [""]), "");
  assert.deepEqual(call(service, "echo_bytes", [[0, 7, 255]]), [0, 7, 255]);
  assert.throws(() => call(service, "echo_nothing", []), /echo_nothing/);
});

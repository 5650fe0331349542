// One `aqua run`: compile, start the network, call the function from the client, stop.

import { readFile } from "node:fs/promises";
import { v5_callFunction } from "@fluencelabs/js-client";
import { UsageError, resolveArguments } from "./cli.mjs";
import { arity, compileFunction } from "./compile.mjs";
import { startNetwork } from "./network.mjs";

const { SchemaValidationError } = await import(
  new URL("compilerSupport/conversions.js", import.meta.resolve("@fluencelabs/js-client")).href
);

/**
 * Runs `options.call` (see cli.mjs `parseArgs`) and returns the output object
 * `{ result, error, peers, client }`: `error` is the Aqua error's message, or null.
 * Throws UsageError and CompileError.
 */
export async function run(options) {
  const data = options.dataFile === null ? {} : await readData(options.dataFile);
  const fn = await compileFunction(options.file, options.call.name, options.imports);
  const expected = arity(fn.def);
  if (options.call.args.length !== expected) {
    throw new UsageError(
      `${options.call.name} takes ${expected} argument(s), got ${options.call.args.length}`,
    );
  }

  const network = await startNetwork(options);
  try {
    const args = resolveArguments(options.call.args, data, network.peerIds);
    const outcome = await call(network.client, fn, args, options.timeout);
    return { ...outcome, peers: network.peerIds, client: network.clientId };
  } finally {
    await network.stop();
  }
}

async function readData(file) {
  let data;
  try {
    data = JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw new UsageError(`--data ${file}: ${e.message}`);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new UsageError(`--data ${file} must hold a JSON object of argument values`);
  }
  return data;
}

/**
 * Calls the function as generated js-client code does, with the particle's TTL as the timeout,
 * and returns `{ result, error }`.
 */
async function call(client, { def, script }, args, ttl) {
  try {
    // Arguments beyond the function's own are the call's config.
    const result = await v5_callFunction([client, ...args, { ttl }], def, script);
    return { result: result ?? null, error: null };
  } catch (e) {
    // js-client checks the arguments against the function's types before sending anything.
    if (e instanceof SchemaValidationError && e.path[0] !== `${def.functionName}ReturnValue`) {
      throw new UsageError(e.message.split("\n")[0]);
    }
    return { result: null, error: errorMessage(e) };
  }
}

/**
 * The message of a failed call: an Aqua error arrives as the `:error:` object (`message`,
 * `error_code`, `instruction`, `peer_id`); expiry and interpreter failures as Error objects.
 */
function errorMessage(e) {
  if (typeof e === "string") return e;
  if (e !== null && typeof e === "object" && typeof e.message === "string") return e.message;
  return JSON.stringify(e);
}

// One `aqua run`: compile, start the network, call the function from the client, stop.

import { access, readFile } from "node:fs/promises";
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
 *
 * `phases`, if given, receives the milliseconds spent in each phase (for bench.mjs).
 */
export async function run(options, phases = {}) {
  const clock = stopwatch(phases);
  await access(options.file).catch(() => {
    throw new UsageError(`cannot read ${options.file}`);
  });
  const data = options.dataFile === null ? {} : await readData(options.dataFile);
  const fn = await compileFunction(options.file, options.call.name, options.imports);
  clock.lap("compile");
  const expected = arity(fn.def);
  if (options.call.args.length !== expected) {
    throw new UsageError(
      `${options.call.name} takes ${expected} argument(s), got ${options.call.args.length}`,
    );
  }

  const network = await startNetwork(options);
  clock.lap("start");
  try {
    const args = resolveArguments(options.call.args, data, network.peerIds);
    const outcome = await call(network.client, fn, args, options.timeout);
    clock.lap("call");
    return { ...outcome, peers: network.peerIds, client: network.clientId };
  } finally {
    await network.stop();
    clock.lap("stop");
  }
}

/** Records in `phases[name]` the milliseconds since the previous lap. */
function stopwatch(phases) {
  let last = performance.now();
  return {
    lap(name) {
      const now = performance.now();
      phases[name] = now - last;
      last = now;
    },
  };
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
export async function call(client, { def, script }, args, ttl) {
  try {
    // Arguments beyond the function's own are the call's config.
    const result = await v5_callFunction([client, ...args, { ttl }], def, script);
    return { result: result ?? null, error: null };
  } catch (e) {
    // js-client checks the arguments against the function's types before sending anything.
    if (e instanceof SchemaValidationError && e.path[0] !== `${def.functionName}ReturnValue`) {
      const reason = e.message.split("\n")[0].replace(/[;\s]+$/, "");
      throw new UsageError(`an argument does not fit the function's types: ${reason}`);
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

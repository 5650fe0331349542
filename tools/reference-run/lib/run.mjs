// One `aqua run`: compile, start the network, call the function from the client, stop.

import { access, readFile } from "node:fs/promises";
import { js2aqua, v5_callFunction } from "@fluencelabs/js-client";
import { UsageError, resolveArguments } from "./cli.mjs";
import { arity, compileFunction } from "./compile.mjs";
import { networkIdentities, startNetwork } from "./network.mjs";

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

  const identities = networkIdentities(options);
  const peerIds = identities.peers.map((peer) => peer.peerId);
  const args = resolveArguments(options.call.args, data, peerIds);
  checkArguments(fn.def, args);

  const network = await startNetwork(identities, options.timeout);
  clock.lap("start");
  try {
    const outcome = await call(network.client, fn, args, options.timeout);
    clock.lap("call");
    return { ...outcome, peers: peerIds, client: identities.client.peerId };
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
 * and returns `{ result, error }`. The arguments must fit the function's types (see
 * `checkArguments`).
 */
export async function call(client, { def, script }, args, ttl) {
  try {
    // Arguments beyond the function's own are the call's config.
    const result = await v5_callFunction([client, ...args, { ttl }], def, script);
    return { result: result ?? null, error: null };
  } catch (e) {
    return { result: null, error: errorMessage(e) };
  }
}

/**
 * Checks the arguments against the function's types with js-client's own conversion, which
 * the call repeats: a mismatch is a usage error here, while any later failure is the run's.
 */
function checkArguments(def, args) {
  const fields = def.arrow.domain.tag === "nil" ? {} : def.arrow.domain.fields;
  Object.entries(fields).forEach(([name, type], i) => {
    if (type.tag === "arrow") {
      throw new UsageError(`argument ${name} is a callback, which a command line cannot give`);
    }
    try {
      js2aqua(args[i], type, { path: [name] });
    } catch (e) {
      throw new UsageError(`argument ${name} does not fit its type: ${firstLine(e.message)}`);
    }
  });
}

/**
 * The message of a failed call: an Aqua error arrives as the `:error:` object (`message`,
 * `error_code`, `instruction`, `peer_id`); expiry and interpreter failures as Error objects.
 */
function errorMessage(e) {
  if (typeof e === "string") return e;
  // js-client's own errors may append a dump of the types involved.
  if (e instanceof Error) return firstLine(e.message);
  if (e !== null && typeof e === "object" && typeof e.message === "string") return e.message;
  return JSON.stringify(e);
}

function firstLine(message) {
  return message.split("\n")[0].replace(/[;\s]+$/, "");
}

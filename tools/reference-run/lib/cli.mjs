// The command line of run.mjs, which mirrors `aquac run`, and the call expression given to -f.

/** A mistake in how the command was called: reported on stderr, exit code 2. */
export class UsageError extends Error {}

export const USAGE =
  "usage: node run.mjs FILE -f 'func(arg, ...)' [--peers N] [--seed S] [--data ARGS.json]\n" +
  "                    [--timeout MS] [-I DIR]... [--json]";

const DEFAULTS = { peers: 3, seed: 0n, timeout: 7000 };

/**
 * Parses run.mjs's arguments into
 * { file, call: { name, args }, peers, seed, dataFile, timeout, imports }.
 * `call.args` are still unresolved (see `parseCall`).
 */
export function parseArgs(argv) {
  const options = { ...DEFAULTS, file: null, call: null, dataFile: null, imports: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    switch (arg) {
      case "-f":
      case "--func":
        options.call = parseCall(value());
        break;
      case "--peers":
        options.peers = parseInteger(arg, value(), 1, 1000);
        break;
      case "--seed":
        options.seed = parseSeed(value());
        break;
      case "--data":
        options.dataFile = value();
        break;
      case "--timeout":
        options.timeout = parseInteger(arg, value(), 1, 0xffff_ffff);
        break;
      case "-I":
      case "--import":
        options.imports.push(value());
        break;
      // The output is always the JSON line; the flag is accepted so that the same arguments
      // work for `aquac run`.
      case "--json":
        break;
      default:
        if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}`);
        if (options.file !== null) throw new UsageError(`one FILE only, got ${options.file} and ${arg}`);
        options.file = arg;
    }
  }
  if (options.file === null) throw new UsageError("FILE is missing");
  if (options.call === null) throw new UsageError("-f 'func(arg, ...)' is missing");
  return options;
}

/** The integer value of `option`, from `min` to `max`. */
export function parseInteger(option, text, min, max) {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${option} takes an integer from ${min} to ${max}, not ${text}`);
  }
  return n;
}

/** The value of --seed, a u64, as a BigInt. */
export function parseSeed(text) {
  if (!/^\d+$/.test(text) || BigInt(text) >= 1n << 64n) {
    throw new UsageError(`--seed takes an unsigned 64-bit integer, not ${text}`);
  }
  return BigInt(text);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CALL = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(([\s\S]*)\)\s*$/;
const JSON_WORDS = new Set(["true", "false", "null"]);

/**
 * Parses `name(arg, ...)`. Each argument is either a JSON literal, `{ value }`, or a bare name
 * to be looked up later, `{ name }`.
 */
export function parseCall(text) {
  const match = CALL.exec(text);
  if (!match) {
    throw new UsageError(`-f takes a call like 'func(arg, ...)', not ${JSON.stringify(text)}`);
  }
  const [, name, body] = match;
  const args = body.trim() === "" ? [] : splitArguments(body).map(parseArgument);
  return { name, args };
}

/** Splits at the commas that are not inside a string, an array or an object. */
function splitArguments(body) {
  const parts = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "[" || c === "{") depth++;
    else if (c === "]" || c === "}") depth--;
    else if (c === "," && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(body.slice(start));
  return parts;
}

function parseArgument(text, index) {
  const trimmed = text.trim();
  if (IDENTIFIER.test(trimmed) && !JSON_WORDS.has(trimmed)) {
    return { name: trimmed };
  }
  try {
    return { value: JSON.parse(trimmed) };
  } catch (e) {
    throw new UsageError(
      `argument ${index + 1} (${JSON.stringify(trimmed)}) is neither JSON nor a name: ${e.message}`,
    );
  }
}

/**
 * The values of a call's arguments: literals as they are, names from `data` (the --data
 * object) and then `PEERS`, the network's peer ids.
 */
export function resolveArguments(args, data, peerIds) {
  return args.map((arg) => {
    if (!("name" in arg)) return arg.value;
    if (Object.hasOwn(data, arg.name)) return data[arg.name];
    if (arg.name === "PEERS") return peerIds;
    const known = ["PEERS", ...Object.keys(data)].join(", ");
    throw new UsageError(`unknown argument name ${arg.name} (known: ${known})`);
  });
}

#!/usr/bin/env node
// The reference counterpart of `aquac run`: compiles FILE with the reference compiler, runs the
// function on js-client's in-memory network of reference peers and prints one JSON line
// {"result", "error", "peers", "client"}. See README.md.
//
// Exit codes: 0 success, 1 the function failed (or FILE does not compile), 2 usage error.

import { USAGE, UsageError, parseArgs } from "./lib/cli.mjs";
import { CompileError } from "./lib/compile.mjs";
import { run } from "./lib/run.mjs";

async function main() {
  let output;
  try {
    output = await run(parseArgs(process.argv.slice(2)));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`run.mjs: ${e.message}\n${USAGE}`);
      return 2;
    }
    if (e instanceof CompileError) {
      console.error(e.message);
      return 1;
    }
    throw e;
  }
  console.log(JSON.stringify(output));
  return output.error === null ? 0 : 1;
}

// js-client may leave timers behind after the network stops; the run is over, so exit at once.
main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e?.stack ?? e);
    process.exit(1);
  },
);

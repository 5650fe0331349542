#!/usr/bin/env node
// Times the reference `aqua run` on aqua/examples/hello.aqua, `hello("world")`, for comparison
// with `aquac run`, and with `--aquac PATH` that binary doing the same. Prints one JSON line:
//
//   cold_ms     median wall time of `node run.mjs ...` in a fresh process (C runs): what one
//               command costs, node's start-up and module loading included;
//   warm_ms     median wall time of one whole run (compile, start the network, call, stop) when
//               repeated K times in one process, after one unmeasured run;
//   phases_ms   the medians of those runs' phases: compile, start, call, stop;
//   call_ms     median time of one call of the function on a network that stays up (K calls);
//   aquac_cold_ms (with --aquac) median wall time of `aquac run ...` in a fresh process (C
//               runs), and `ratios`: each reference time divided by it.
//
// With --aquac, a table of the same figures comes first.
//
// Usage: node bench.mjs [--warm K] [--cold C] [--aquac PATH]   (defaults: K = 10, C = 3)
// compare.sh builds aquac and runs this with --aquac.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { UsageError, parseCall, parseInteger } from "./lib/cli.mjs";
import { compileFunction } from "./lib/compile.mjs";
import { networkIdentities, startNetwork } from "./lib/network.mjs";
import { call, run } from "./lib/run.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const EXAMPLE = {
  file: fileURLToPath(new URL("../../aqua/examples/hello.aqua", import.meta.url)),
  call: 'hello("world")',
  expected: "Hello, world",
};
const RUN_OPTIONS = {
  file: EXAMPLE.file,
  call: parseCall(EXAMPLE.call),
  peers: 3,
  seed: 0n,
  dataFile: null,
  timeout: 7000,
  imports: [],
};

/** Wall time of `node run.mjs` on the example, in a new process each time. */
function coldRun() {
  const started = performance.now();
  const child = spawnSync(process.execPath, ["run.mjs", EXAMPLE.file, "-f", EXAMPLE.call], {
    cwd: here,
    encoding: "utf8",
  });
  const elapsed = performance.now() - started;
  checkResult(child.status === 0 ? JSON.parse(child.stdout).result : child.stderr || child.stdout);
  return elapsed;
}

/** Wall time of `aquac run` on the example, in a new process each time. */
function aquacRun(aquac) {
  const started = performance.now();
  const child = spawnSync(aquac, ["run", EXAMPLE.file, "-f", EXAMPLE.call], { encoding: "utf8" });
  const elapsed = performance.now() - started;
  if (child.error) throw new UsageError(`--aquac ${aquac}: ${child.error.message}`);
  checkResult(child.status === 0 ? JSON.parse(child.stdout) : child.stderr || child.stdout);
  return elapsed;
}

/** Wall time of one whole run in this process, and its phases. */
async function warmRun() {
  const phases = {};
  const started = performance.now();
  const output = await run(RUN_OPTIONS, phases);
  const elapsed = performance.now() - started;
  checkResult(output.error ?? output.result);
  return { elapsed, phases };
}

/** Times of `calls` calls on one network. */
async function callTimes(calls) {
  const { call: expression, file, imports, timeout } = RUN_OPTIONS;
  const fn = await compileFunction(file, expression.name, imports);
  const args = expression.args.map((arg) => arg.value);
  const network = await startNetwork(networkIdentities(RUN_OPTIONS), timeout);
  try {
    const times = [];
    // The first call warms the peers up and is not counted.
    for (let i = 0; i <= calls; i++) {
      const started = performance.now();
      const outcome = await call(network.client, fn, args, timeout);
      if (i > 0) times.push(performance.now() - started);
      checkResult(outcome.error ?? outcome.result);
    }
    return times;
  } finally {
    await network.stop();
  }
}

// A timing of a wrong answer would be meaningless.
function checkResult(result) {
  if (result !== EXAMPLE.expected) {
    throw new Error(`the example gave ${JSON.stringify(result)}, not ${JSON.stringify(EXAMPLE.expected)}`);
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const ms = (x) => Math.round(x * 10) / 10;

function parseOptions(argv) {
  const options = { warm: 10, cold: 3, aquac: null };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    if (flag === "--warm") options.warm = parseInteger(flag, value, 1, 10_000);
    else if (flag === "--cold") options.cold = parseInteger(flag, value, 1, 1000);
    else if (flag === "--aquac") options.aquac = value;
    else throw new UsageError(`unknown option ${flag}`);
  }
  return options;
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const cold = Array.from({ length: options.cold }, coldRun);

  await warmRun();
  const warm = [];
  for (let i = 0; i < options.warm; i++) warm.push(await warmRun());
  const phaseNames = Object.keys(warm[0].phases);
  const phases = Object.fromEntries(
    phaseNames.map((name) => [name, ms(median(warm.map((w) => w.phases[name])))]),
  );

  const calls = await callTimes(options.warm);
  const output = {
    example: `${EXAMPLE.call} of aqua/examples/hello.aqua, 3 peers`,
    cold_ms: ms(median(cold)),
    cold_runs: options.cold,
    warm_ms: ms(median(warm.map((w) => w.elapsed))),
    warm_runs: options.warm,
    phases_ms: phases,
    call_ms: ms(median(calls)),
  };
  if (options.aquac !== null) {
    const aquac = median(Array.from({ length: options.cold }, () => aquacRun(options.aquac)));
    output.aquac_cold_ms = ms(aquac);
    output.ratios = {
      cold: ms(median(cold) / aquac),
      warm: ms(output.warm_ms / aquac),
      call: ms(output.call_ms / aquac),
    };
    printTable(output, options);
  }
  console.log(JSON.stringify(output));
}

function printTable(output, options) {
  const rows = [
    ["aquac run, fresh process", output.aquac_cold_ms, options.cold, "1"],
    ["reference run.mjs, fresh node process", output.cold_ms, options.cold, output.ratios.cold],
    ["reference, whole run repeated in one process", output.warm_ms, options.warm, output.ratios.warm],
    ["reference, one call on a running network", output.call_ms, options.warm, output.ratios.call],
  ];
  console.log(`${output.example}: median wall time, and its ratio to aquac's`);
  console.log("| measure | median ms | runs | × aquac |");
  console.log("|---|---|---|---|");
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
}

main().then(
  () => process.exit(0),
  (e) => {
    if (e instanceof UsageError) {
      console.error(`bench.mjs: ${e.message}\nusage: node bench.mjs [--warm K] [--cold C] [--aquac PATH]`);
      process.exit(2);
    }
    console.error(e?.stack ?? e);
    process.exit(1);
  },
);

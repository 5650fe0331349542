#!/usr/bin/env node
// Times the reference compiler (@fluencelabs/aqua-api) on the corpora of the compiler benchmark
// (aqua/benches/compile.rs), which runs this script for its side-by-side table.
//
// Usage: cd tools/aqua-corpus && npm ci && node bench-reference.mjs [--warm K] [corpus ...]
//
// Corpora: `stdlib` (../../stdlib), `programs` (../../aqua/tests/programs, helper modules
// included) and `project` (../../aqua/benches/project, written by gen-project.py); all three by
// default. Each corpus is compiled as one directory, the way `aqua compile -i <dir>` does it:
// every file once, imports resolved once. `@fluencelabs/aqua-lib` resolves to our
// ../../stdlib, so both compilers read the same library sources.
//
// Every corpus runs in a fresh node process. There the script times loading the compiler
// module (`load_ms`), the first compilation (`first_ms`), and then K more compilations
// (default 5; `warm_ms` is their median). `cold_ms` = `load_ms` + `first_ms`: what one
// `aqua compile` costs once node itself is up (`boot_ms`, node's own start-up until this script
// runs, comes on top). One JSON object per corpus is printed on its own line:
// {"corpus", "files", "lines", "boot_ms", "load_ms", "first_ms", "cold_ms", "warm_ms",
//  "warm_runs"}. Exits non-zero if a corpus does not compile without errors or warnings.

// Milliseconds since the process started (`performance.now()` counts from there).
const booted = performance.now();

import { spawnSync } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const stdlib = path.join(repo, "stdlib");
const CORPORA = {
  stdlib,
  programs: path.join(repo, "aqua/tests/programs"),
  project: path.join(repo, "aqua/benches/project"),
};

// ANSI colour codes make errors unreadable in logs.
const plain = (s) => String(s).replace(/\u001b\[[0-9;]*m/g, "");

async function aquaFiles(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await aquaFiles(full)));
    else if (entry.name.endsWith(".aqua")) found.push(full);
  }
  return found;
}

async function measure(name, warmRuns) {
  const started = performance.now();
  const { compileFromPath } = await import("@fluencelabs/aqua-api");
  const loaded = performance.now();

  const args = {
    filePath: CORPORA[name],
    imports: { "/": { "@fluencelabs/aqua-lib": [stdlib] } },
    targetType: "air",
    // The compiler logs transformation notes on stdout, where the JSON goes.
    logLevel: "off",
  };
  const compile = async () => {
    const result = await compileFromPath(args);
    const problems = [
      ...(result.errors ?? []).map((e) => `error: ${plain(e)}`),
      ...(result.warnings ?? []).map((w) => `warning: ${plain(w)}`),
    ];
    if (problems.length > 0) {
      throw new Error(`corpus ${name} does not compile cleanly:\n  ${problems.join("\n  ")}`);
    }
  };

  await compile();
  const first = performance.now();
  const warm = [];
  for (let i = 0; i < warmRuns; i++) {
    const t = performance.now();
    await compile();
    warm.push(performance.now() - t);
  }
  warm.sort((a, b) => a - b);

  const files = await aquaFiles(CORPORA[name]);
  let lines = 0;
  for (const file of files) {
    const text = await readFile(file, "utf8");
    lines += text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  }
  const ms = (x) => Math.round(x * 100) / 100;
  return {
    corpus: name,
    files: files.length,
    lines,
    boot_ms: ms(booted),
    load_ms: ms(loaded - started),
    first_ms: ms(first - loaded),
    cold_ms: ms(first - started),
    warm_ms: warm.length > 0 ? ms(warm[Math.floor(warm.length / 2)]) : null,
    warm_runs: warmRuns,
  };
}

function usage(message) {
  console.error(`bench-reference: ${message}`);
  console.error("usage: node bench-reference.mjs [--warm K] [corpus ...]");
  console.error(`corpora: ${Object.keys(CORPORA).join(", ")}`);
  process.exit(2);
}

function parseArgs(argv) {
  const options = { warm: 5, child: null, corpora: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--warm" || arg === "--child") {
      const value = argv[++i];
      if (value === undefined) usage(`${arg} needs a value`);
      if (arg === "--warm") {
        options.warm = Number(value);
        if (!Number.isInteger(options.warm) || options.warm < 0) {
          usage(`--warm takes a count, not ${value}`);
        }
      } else {
        options.child = value;
      }
    } else if (arg in CORPORA) {
      options.corpora.push(arg);
    } else {
      usage(`unknown argument ${arg}`);
    }
  }
  if (options.corpora.length === 0) options.corpora = Object.keys(CORPORA);
  return options;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (options.child !== null) {
    if (!(options.child in CORPORA)) usage(`unknown corpus ${options.child}`);
    console.log(JSON.stringify(await measure(options.child, options.warm)));
    return;
  }
  let failed = false;
  for (const name of options.corpora) {
    const script = fileURLToPath(import.meta.url);
    const child = spawnSync(
      process.execPath,
      [script, "--child", name, "--warm", String(options.warm)],
      { cwd: here, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
    );
    if (child.status !== 0) {
      console.error(`bench-reference: corpus ${name} failed (exit ${child.status})`);
      failed = true;
      continue;
    }
    // The child's report is its last line (the compiler may log above it).
    console.log(child.stdout.trim().split("\n").pop());
  }
  if (failed) process.exit(1);
}

main().catch((e) => {
  console.error(plain(e?.stack ?? e));
  process.exit(1);
});

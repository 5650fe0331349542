#!/usr/bin/env node
// Times the reference runtime for JS, @fluencelabs/marine-js 0.13.0, on the modules and calls
// of our benchmark (marine/benches/service.rs, which runs this script for its side-by-side
// table).
//
// Usage: cd tools/marine-bench && npm ci &&
//   node bench.mjs --echo ../../marine/benches/echo.wasm --spell DIR [--cold C] [--warm W]
//
// DIR holds the spell service's spell.wasm and sqlite3.wasm (fluence-spell-distro 0.7.6; the
// benchmark writes them there). One JSON line per operation: {"op", "ms", "runs"}, the median
// time of one operation in milliseconds, or {"op", "error"} when marine-js cannot do it.
// - echo_string, echo_bytes_1mb: one `MarineService.call` of the echo module (JSON in and
//   out, the only way marine-js takes arguments); the string call is timed in batches of 1000.
// - <service>_cold: a fresh node process compiles the control module and starts the service
//   (node's own start-up excluded), C times.
// - <service>_warm: starting the service again in a process that started it before (V8 may
//   reuse the code it compiled for the same bytes), W times.
// Services: `sqlite3` (sqlite3.wasm alone) and `spell` (sqlite3.wasm, then spell.wasm).

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { call, controlBytes, startService } from "./lib.mjs";

const STRING = "Hello, Marine!";
const MIB = 1 << 20;
const BATCH = 1000;

function options(argv) {
  const o = { cold: 5, warm: 10 };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case "--echo": o.echo = value(); break;
      case "--spell": o.spell = value(); break;
      case "--cold": o.cold = Number(value()); break;
      case "--warm": o.warm = Number(value()); break;
      case "--cold-child": o.coldChild = value(); break;
      default: throw new Error(`unknown option ${argv[i]}`);
    }
  }
  if (!o.spell || (!o.echo && !o.coldChild)) {
    throw new Error("usage: node bench.mjs --echo FILE --spell DIR [--cold C] [--warm W]");
  }
  return o;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function services(dir) {
  const sqlite3 = ["sqlite3", readFileSync(path.join(dir, "sqlite3.wasm"))];
  const spell = ["spell", readFileSync(path.join(dir, "spell.wasm"))];
  return { sqlite3: [sqlite3], spell: [sqlite3, spell] };
}

// marine-js prints a module's trap with console.log; stdout carries only the JSON lines.
const print = console.log;
console.log = console.error;

function emit(row) {
  print(JSON.stringify(row));
}

function message(error) {
  return String(error?.message ?? error).split("\n")[0];
}

async function echoCalls(control, file, warm) {
  const service = await startService(control, [["echo", readFileSync(file)]]);
  if (call(service, "echo_string", [STRING]) !== STRING) throw new Error("echo_string is wrong");
  for (let i = 0; i < BATCH; i++) call(service, "echo_string", [STRING]);
  const batches = [];
  for (let b = 0; b < Math.max(warm, 5); b++) {
    const t = performance.now();
    for (let i = 0; i < BATCH; i++) call(service, "echo_string", [STRING]);
    batches.push((performance.now() - t) / BATCH);
  }
  emit({ op: "echo_string", ms: median(batches), runs: batches.length * BATCH });

  const bytes = Array.from({ length: MIB }, (_, i) => i % 251);
  const back = call(service, "echo_bytes", [bytes]);
  if (back.length !== MIB || back[MIB - 1] !== bytes[MIB - 1]) throw new Error("echo_bytes is wrong");
  const times = [];
  for (let i = 0; i < warm; i++) {
    const t = performance.now();
    call(service, "echo_bytes", [bytes]);
    times.push(performance.now() - t);
  }
  emit({ op: "echo_bytes_1mb", ms: median(times), runs: times.length });
}

// In a fresh process: compile the control module and start the service once.
async function coldChild(name, dir) {
  const modules = services(dir)[name];
  const t = performance.now();
  const control = await WebAssembly.compile(controlBytes());
  await startService(control, modules);
  emit({ ms: performance.now() - t });
}

function cold(name, dir, runs) {
  const script = fileURLToPath(import.meta.url);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const child = spawnSync(process.execPath, [script, "--cold-child", name, "--spell", dir], {
      encoding: "utf8",
    });
    if (child.status !== 0) {
      // The uncaught error's own line, not the source line node prints above it.
      const thrown = child.stderr.split("\n").find((line) => /^\w*Error: /.test(line));
      return { op: `${name}_cold`, error: message(thrown ?? child.stderr) };
    }
    times.push(JSON.parse(child.stdout.trim().split("\n").pop()).ms);
  }
  return { op: `${name}_cold`, ms: median(times), runs };
}

async function warm(control, name, dir, runs) {
  const modules = services(dir)[name];
  try {
    await startService(control, modules);
    const times = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await startService(control, modules);
      times.push(performance.now() - t);
    }
    return { op: `${name}_warm`, ms: median(times), runs };
  } catch (error) {
    return { op: `${name}_warm`, error: message(error) };
  }
}

const o = options(process.argv.slice(2));
if (o.coldChild) {
  await coldChild(o.coldChild, o.spell);
} else {
  const control = await WebAssembly.compile(controlBytes());
  await echoCalls(control, o.echo, o.warm);
  for (const name of ["sqlite3", "spell"]) {
    emit(cold(name, o.spell, o.cold));
    emit(await warm(control, name, o.spell, o.warm));
  }
}

#!/usr/bin/env node
// Writes the reference compiler's interface of Aqua modules: for each program, the JSON
// definitions of its exported functions and services that @fluencelabs/aqua-api puts into its
// JS output for @fluencelabs/js-client (`callFunction$$(args, <function definition>, script)`
// and `registerService$$(args, <service definition>)`), as <name>.ref.json beside it:
//
//   { "functions": { "<name>": <definition>, ... }, "services": { "<name>": <definition>, ... } }
//
// Programs: every aqua/tests/programs/<area>/<name>.aqua (the runnable corpus) and every
// aqua/tests/interface/<name>.aqua. The reference writes the fields of a struct with more than
// four fields in the order of a Scala hash map; they are sorted by name here (the order of a
// struct's fields means nothing to the client; the order of parameters does, and is kept).
//
// Usage: cd tools/aqua-corpus && npm ci && node compile-interfaces.mjs [filter]

import { compileFromPath } from "@fluencelabs/aqua-api";
import { readdir, writeFile, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const tests = path.resolve(here, "../../aqua/tests");
const nodeModules = path.join(here, "node_modules");
const filter = process.argv[2] ?? "";

const plain = (s) => String(s).replace(/\u001b\[[0-9;]*m/g, "");

async function aquaFiles(dir) {
  return (await readdir(dir)).filter((f) => f.endsWith(".aqua")).sort();
}

async function programs() {
  const found = [];
  const corpus = path.join(tests, "programs");
  for (const area of (await readdir(corpus)).sort()) {
    const dir = path.join(corpus, area);
    if (!(await stat(dir)).isDirectory()) continue;
    for (const file of await aquaFiles(dir)) found.push(path.join(dir, file));
  }
  const interfaces = path.join(tests, "interface");
  for (const file of await aquaFiles(interfaces)) found.push(path.join(interfaces, file));
  return found;
}

// The definitions in the JS output: each is pretty-printed JSON whose closing brace starts a
// line, passed as the second argument of `callFunction$$` or `registerService$$`.
function definitions(js) {
  const out = { functions: {}, services: {} };
  const service =
    /export function register(\w+)\(\.\.\.args\) \{\n\s*registerService\$\$\(\n\s*args,\n\s*(\{[\s\S]*?\n\})\n/g;
  const func = /callFunction\$\$\(\n\s*args,\n\s*(\{[\s\S]*?\n\}),\n\s*(\w+)_script\n/g;
  for (const m of js.matchAll(service)) out.services[m[1]] = JSON.parse(m[2]);
  for (const m of js.matchAll(func)) out.functions[m[2]] = JSON.parse(m[1]);
  return out;
}

// Sorts the fields of every struct, recursively.
function sortStructs(value) {
  if (Array.isArray(value)) return value.map(sortStructs);
  if (value === null || typeof value !== "object") return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = sortStructs(v);
  if (value.tag === "struct") {
    out.fields = Object.fromEntries(
      Object.keys(out.fields).sort().map((k) => [k, out.fields[k]]),
    );
  }
  return out;
}

async function main() {
  let failed = 0;
  let written = 0;
  for (const file of await programs()) {
    const id = path.relative(tests, file);
    if (!id.includes(filter)) continue;
    let result;
    try {
      result = await compileFromPath({ filePath: file, imports: [nodeModules], targetType: "js" });
    } catch (e) {
      console.error(`FAIL ${id}: ${plain(e?.message ?? e)}`);
      failed++;
      continue;
    }
    const errors = (result.errors ?? []).map(plain);
    const sources = result.generatedSources ?? [];
    if (errors.length > 0 || sources.length !== 1) {
      console.error(`FAIL ${id}:\n  ${errors.join("\n  ") || `${sources.length} outputs`}`);
      failed++;
      continue;
    }
    const js = sources[0].jsSource;
    const found = definitions(js);
    const expected = (js.match(/^export const \w+_script = /gm) ?? []).length;
    if (Object.keys(found.functions).length !== expected) {
      console.error(`FAIL ${id}: read ${Object.keys(found.functions).length} of ${expected} functions`);
      failed++;
      continue;
    }
    const target = file.replace(/\.aqua$/, ".ref.json");
    await writeFile(target, JSON.stringify(sortStructs(found), null, 2) + "\n");
    written++;
  }
  console.log(`aqua interfaces: ${written} written, ${failed} failures`);
  if (failed > 0) process.exit(1);
}

main().catch((e) => {
  console.error(plain(e?.stack ?? e));
  process.exit(1);
});

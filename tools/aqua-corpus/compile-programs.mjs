#!/usr/bin/env node
// Compiles the runnable Aqua corpora with the reference compiler (@fluencelabs/aqua-api):
// every aqua/tests/programs/<area>/<name>.aqua (files in deeper folders are helper modules for
// imports, not programs) becomes one <name>.<function>.ref.air per exported function, next to
// the program; so does every aqua/tests/tracing/<area>/<name>.aqua, compiled in tracing mode.
// The programs are also compiled with `noXor` and with `noRelay`, into
// <name>.<function>.noxor.ref.air and <name>.<function>.norelay.ref.air.
// Stale .ref.air files are removed first. Any compile error or warning fails.
//
// Usage: cd tools/aqua-corpus && npm ci && node compile-programs.mjs [filter]
// With a filter, only programs whose "<corpus>/<area>/<name>" contains it are compiled (nothing
// removed elsewhere).

import { compileFromPath } from "@fluencelabs/aqua-api";
import { readdir, rm, writeFile, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const tests = path.resolve(here, "../../aqua/tests");
const corpora = [
  { name: "programs", variants: [
    { suffix: "", options: {} },
    { suffix: ".noxor", options: { noXor: true } },
    { suffix: ".norelay", options: { noRelay: true } },
  ] },
  { name: "tracing", variants: [{ suffix: "", options: { tracing: true } }] },
];
const nodeModules = path.join(here, "node_modules");
const filter = process.argv[2] ?? "";

// ANSI colour codes make errors unreadable in logs.
const plain = (s) => String(s).replace(/\u001b\[[0-9;]*m/g, "");

async function programs() {
  const found = [];
  for (const { name, variants } of corpora) {
    const root = path.join(tests, name);
    for (const area of (await readdir(root)).sort()) {
      const dir = path.join(root, area);
      if (!(await stat(dir)).isDirectory()) continue;
      for (const file of (await readdir(dir)).sort()) {
        if (file.endsWith(".aqua")) found.push({ area: `${name}/${area}`, dir, file, variants });
      }
    }
  }
  return found;
}

async function main() {
  let failed = 0;
  let written = 0;
  let count = 0;
  for (const { area, dir, file, variants } of await programs()) {
    const stem = path.basename(file, ".aqua");
    if (!`${area}/${stem}`.includes(filter)) continue;
    count++;
    for (const old of await readdir(dir)) {
      if (old.startsWith(`${stem}.`) && old.endsWith(".ref.air")) {
        await rm(path.join(dir, old));
      }
    }
    for (const { suffix, options } of variants) {
      let result;
      try {
        result = await compileFromPath({
          filePath: path.join(dir, file),
          imports: [nodeModules],
          targetType: "air",
          ...options,
        });
      } catch (e) {
        console.error(`FAIL ${area}/${file}${suffix}: ${plain(e?.message ?? e)}`);
        failed++;
        continue;
      }
      const problems = [
        ...(result.errors ?? []).map((e) => `error: ${plain(e)}`),
        ...(result.warnings ?? []).map((w) => `warning: ${plain(w)}`),
      ];
      const names = Object.keys(result.functions ?? {}).sort();
      if (problems.length === 0 && names.length === 0) problems.push("no exported function");
      if (problems.length > 0) {
        console.error(`FAIL ${area}/${file}${suffix}:\n  ${problems.join("\n  ")}`);
        failed++;
        continue;
      }
      for (const name of names) {
        const script = result.functions[name].script;
        await writeFile(
          path.join(dir, `${stem}.${name}${suffix}.ref.air`),
          script.endsWith("\n") ? script : script + "\n",
        );
        written++;
      }
    }
  }
  console.log(`aqua programs: ${count} compiled, ${written} functions, ${failed} failures`);
  if (failed > 0) process.exit(1);
}

main().catch((e) => {
  console.error(plain(e?.stack ?? e));
  process.exit(1);
});

#!/usr/bin/env node
// Compiles every programs/*.aqua with the reference Aqua compiler
// (@fluencelabs/aqua-api) and writes the AIR of each generated function to
// ../../air/tests/data/aqua-corpus/<program-stem>.<function-name>.air
//
// Usage: cd tools/aqua-corpus && npm ci && node compile.mjs

import { compileFromPath } from "@fluencelabs/aqua-api";
import { readdir, mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const programsDir = path.join(here, "programs");
const nodeModules = path.join(here, "node_modules");
const outDir = path.resolve(here, "../../air/tests/data/aqua-corpus");

// Programs that are additionally compiled with non-default options.
// Each variant produces <stem>.<fn>.<suffix>.air.
const VARIANTS = [
  { suffix: "noxor", options: { noXor: true } },
  { suffix: "norelay", options: { noRelay: true } },
];
const VARIANT_PROGRAMS = new Set([
  "relay_hello",
  "via_multi_hop",
  "fold_par_gate",
  "try_catch_otherwise",
  "stream_fanout_kad",
  "closures_on_peer",
]);

// Strip ANSI colour codes so that errors are readable in CI logs.
const plain = (s) => String(s).replace(/\u001b\[[0-9;]*m/g, "");

async function compileOne(filePath, options) {
  const result = await compileFromPath({
    filePath,
    imports: [nodeModules],
    targetType: "air",
    ...options,
  });
  const problems = [];
  for (const e of result.errors ?? []) problems.push(`error: ${plain(e)}`);
  // Warnings are treated as errors: a fixture corpus should be clean.
  for (const w of result.warnings ?? []) problems.push(`warning: ${plain(w)}`);
  return { functions: result.functions ?? {}, problems };
}

async function main() {
  const programs = (await readdir(programsDir))
    .filter((f) => f.endsWith(".aqua"))
    .sort();
  if (programs.length === 0) throw new Error(`no .aqua files in ${programsDir}`);

  await mkdir(outDir, { recursive: true });
  // Remove stale fixtures first.
  let removed = 0;
  for (const f of await readdir(outDir)) {
    if (f.endsWith(".air")) {
      await rm(path.join(outDir, f));
      removed++;
    }
  }

  let failed = 0;
  let written = 0;
  let variantsWritten = 0;
  for (const file of programs) {
    const stem = path.basename(file, ".aqua");
    const filePath = path.join(programsDir, file);
    const runs = [{ suffix: "", options: {} }];
    if (VARIANT_PROGRAMS.has(stem)) runs.push(...VARIANTS);

    for (const { suffix, options } of runs) {
      const label = suffix ? `${file} [${suffix}]` : file;
      let res;
      try {
        res = await compileOne(filePath, options);
      } catch (e) {
        console.error(`FAIL ${label}: ${plain(e?.message ?? e)}`);
        failed++;
        continue;
      }
      if (res.problems.length > 0) {
        console.error(`FAIL ${label}:\n  ${res.problems.join("\n  ")}`);
        failed++;
        continue;
      }
      const names = Object.keys(res.functions).sort();
      if (names.length === 0) {
        console.error(`FAIL ${label}: no functions generated`);
        failed++;
        continue;
      }
      for (const name of names) {
        const script = res.functions[name].script;
        if (typeof script !== "string" || script.trim() === "") {
          console.error(`FAIL ${label}: empty AIR for ${name}`);
          failed++;
          continue;
        }
        const outName = suffix
          ? `${stem}.${name}.${suffix}.air`
          : `${stem}.${name}.air`;
        await writeFile(
          path.join(outDir, outName),
          script.endsWith("\n") ? script : script + "\n",
        );
        written++;
        if (suffix) variantsWritten++;
      }
    }
  }

  console.log(
    `aqua-corpus: ${programs.length} programs, ${written} AIR files written ` +
      `(${written - variantsWritten} default, ${variantsWritten} variants), ` +
      `${removed} stale removed, ${failed} failures -> ${path.relative(process.cwd(), outDir) || outDir}`,
  );
  if (failed > 0) process.exit(1);
}

main().catch((e) => {
  console.error(plain(e?.stack ?? e));
  process.exit(1);
});

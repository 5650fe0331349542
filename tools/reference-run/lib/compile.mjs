// Compiles an Aqua file with the reference compiler and picks out one function: its definition
// (argument and result types, service names) and its AIR, the two things that generated
// js-client code hands to `v5_callFunction`.

import { compileFromPath } from "@fluencelabs/aqua-api";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "./cli.mjs";

const nodeModules = fileURLToPath(new URL("../node_modules", import.meta.url));

/** The file does not compile; `message` holds the compiler's errors. */
export class CompileError extends Error {}

// The compiler colours its messages.
const plain = (s) => String(s).replace(/\u001b\[[0-9;]*m/g, "");

/**
 * `{ def, script }` of the exported function `name` of `file`. Imports are looked up in
 * `importDirs`, then in this package's node_modules, where `@fluencelabs/aqua-lib` is.
 */
export async function compileFunction(file, name, importDirs) {
  return pickFunction(await compileFile(file, importDirs), file, name);
}

/**
 * The exported functions of `file` by name, each `{ def, script }` (imports as for
 * `compileFunction`).
 */
export async function compileFile(file, importDirs) {
  const result = await compileFromPath({
    filePath: path.resolve(file),
    imports: [...importDirs.map((dir) => path.resolve(dir)), nodeModules],
    targetType: "air",
    // The compiler would log on stdout, where the JSON line goes.
    logLevel: "off",
  });
  if (result.errors.length > 0) {
    throw new CompileError(result.errors.map(plain).join("\n"));
  }
  return Object.fromEntries(
    Object.entries(result.functions).map(([name, fn]) => [name, { def: fn.funcDef, script: fn.script }]),
  );
}

/** The function `name` of `functions` (from `compileFile(file)`). */
export function pickFunction(functions, file, name) {
  const fn = functions[name];
  if (fn === undefined) {
    const exported = Object.keys(functions).sort().join(", ") || "none";
    throw new UsageError(`${file} exports no function ${name} (exported: ${exported})`);
  }
  return fn;
}

/** The number of arguments that a function definition takes. */
export function arity(def) {
  const domain = def.arrow.domain;
  return domain.tag === "nil" ? 0 : Object.keys(domain.fields).length;
}

#!/usr/bin/env node
// Checks that our standard library (../../stdlib/*.aqua) declares the same
// interface as a copy of aqua-lib, using the reference compiler.
//
// Usage: cd tools/aqua-corpus && npm ci && node check-stdlib.mjs [ALIB_DIR ...]
//
// Each ALIB_DIR holds aqua-lib's builtin.aqua, math.aqua, workers.aqua and
// subnet.aqua; without arguments, the npm copy in node_modules is used.
// First our files, then every ```aqua example of the book's standard library
// chapter (importing our files), are compiled: an error or a warning fails
// the check. Every corpus program (programs/*.aqua) must compile against our
// files to the same AIR as against the npm aqua-lib. Then, for every ALIB_DIR:
//   1. both sides' files are scanned for their module headers, declared
//      names and the order of data fields (the compiler keeps no order);
//   2. one program importing every service and naming every alias and
//      data type (through the module names of the headers) is compiled
//      once against our files and once against ALIB_DIR; the service
//      definitions of both results (default ids, functions, argument names
//      and types, result types) and the shapes of all types are compared.
// Exits with 1 when anything differs.

import { compileFromPath } from "@fluencelabs/aqua-api";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const FILES = ["builtin.aqua", "math.aqua", "workers.aqua", "subnet.aqua"];
const PREFIX = "@fluencelabs/aqua-lib";
const ourDir = path.resolve(here, "../../stdlib");
const bookChapter = path.resolve(here, "../../book/src/aqua/stdlib.md");
const programsDir = path.join(here, "programs");
const npmLibDir = path.join(here, "node_modules", PREFIX);

const plain = (s) => String(s).replace(/\u001b\[[0-9;]*m/g, "");

// --- Text scan: headers, declared names, data field order -----------------

// Reads the top-level declarations of one file. Aqua blocks are indented
// under an unindented line, so a line-based scan is enough for these files.
function scan(text, file) {
  const decl = { header: null, names: new Map(), dataFields: new Map() };
  let currentData = null;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/--.*$/, "").trimEnd();
    if (line.trim() === "") continue;
    if (/^\s/.test(line)) {
      const field = currentData && line.trim().match(/^(\w+)\s*:/);
      if (field) decl.dataFields.get(currentData).push(field[1]);
      continue;
    }
    currentData = null;
    let m;
    if ((m = line.match(/^aqua\s+(\w+)/))) decl.header = m[1];
    else if ((m = line.match(/^data\s+(\w+)\s*:/))) {
      decl.names.set(m[1], "data");
      decl.dataFields.set(m[1], []);
      currentData = m[1];
    } else if ((m = line.match(/^alias\s+(\w+)\s*:/))) decl.names.set(m[1], "alias");
    else if ((m = line.match(/^service\s+(\w+)\s*\(/))) decl.names.set(m[1], "service");
    else if ((m = line.match(/^import\s+(.+?)\s+from\s+"/))) {
      // Imported names are visible through the module too.
      for (const item of m[1].split(",")) {
        const name = item.trim().split(/\s+as\s+/).pop();
        decl.names.set(name, "import");
      }
    } else if (!/^(import|use|export)\b/.test(line)) {
      throw new Error(`${file}: unexpected top-level line: ${line}`);
    }
  }
  if (!decl.header) throw new Error(`${file}: no \`aqua\` header`);
  return decl;
}

async function scanDir(dir) {
  const out = new Map();
  for (const file of FILES) {
    const p = path.join(dir, file);
    out.set(file, scan(await readFile(p, "utf8"), p));
  }
  return out;
}

// --- Compiler output, normalized ------------------------------------------

// aqua-api returns Scala.js objects whose keys carry the class name
// (`Laqua_js_ScalarTypeDefJs__f_name`); keep the field name only.
function unmangle(v) {
  if (Array.isArray(v)) return v.map(unmangle);
  if (v === null || typeof v !== "object") return v;
  const out = {};
  for (const [k, x] of Object.entries(v)) {
    const m = k.match(/^L[\w$]*?__f_(.+)$/);
    out[m ? m[1] : k] = unmangle(x);
  }
  return out;
}

// Renders a type definition as Aqua-like text. Structs are rendered by name
// and their fields are collected into `structs`, so that a difference in a
// struct is reported once, not in every signature that mentions it.
function render(t, structs) {
  switch (t.tag) {
    case "scalar":
      return t.name;
    case "array":
      return `[]${render(t.type, structs)}`;
    case "option":
      return `?${render(t.type, structs)}`;
    case "topType":
      return "⊤";
    case "bottomType":
      return "⊥";
    case "nil":
      return "()";
    case "struct": {
      // The reference compiler keeps fields in a sorted map, so their
      // order here means nothing; the text scan checks the order.
      const fields = Object.keys(t.fields)
        .sort()
        .map((f) => `${f}: ${render(t.fields[f], structs)}`)
        .join(", ");
      const seen = structs.get(t.name);
      if (seen !== undefined && seen !== fields) {
        structs.set(t.name, `${seen} | CONFLICT: ${fields}`);
      } else {
        structs.set(t.name, fields);
      }
      return t.name;
    }
    case "labeledProduct":
      return `(${Object.entries(t.fields)
        .map(([n, x]) => `${n}: ${render(x, structs)}`)
        .join(", ")})`;
    case "unlabeledProduct":
      return t.items.map((x) => render(x, structs)).join(", ");
    case "arrow":
      return `${render(t.domain, structs)} -> ${render(t.codomain, structs) || "()"}`;
    default:
      throw new Error(`unknown type definition: ${JSON.stringify(t)}`);
  }
}

// The interface a compiled program exposes: services, type shapes, structs.
function summarize(result) {
  const structs = new Map();
  const services = new Map();
  for (const [name, def] of Object.entries(unmangle(result.services))) {
    if (def.defaultServiceId === undefined || def.functions?.tag !== "labeledProduct") {
      throw new Error(`unexpected service definition for ${name}: ${JSON.stringify(def)}`);
    }
    services.set(name, `default id "${def.defaultServiceId}"`);
    for (const [fname, arrow] of Object.entries(def.functions.fields)) {
      services.set(`${name}.${fname}`, render(arrow, structs));
    }
  }
  const shapes = new Map();
  for (const [name, fn] of Object.entries(unmangle(result.functions))) {
    const domain = fn.funcDef?.arrow?.domain;
    if (domain?.tag !== "labeledProduct") {
      throw new Error(`unexpected function definition for ${name}`);
    }
    shapes.set(name.replace(/^shape_/, ""), render(domain.fields.x, structs));
  }
  return { services, shapes, structs };
}

// --- The probe program ----------------------------------------------------

function probeProgram(common, headers) {
  const services = [];
  const imports = [];
  const uses = [];
  const shapes = [];
  for (const file of FILES) {
    const names = common.get(file);
    const own = [...names].filter(([, kind]) => kind === "service").map(([n]) => n);
    if (own.length > 0) imports.push(`import ${own.join(", ")} from "${PREFIX}/${file}"`);
    services.push(...own);
    uses.push(`use "${PREFIX}/${file}"`);
    for (const [name, kind] of names) {
      if (kind === "service") continue;
      const q = `${headers.get(file)}.${name}`;
      shapes.push(`func shape_${q.replace(".", "_")}(x: ${q}) -> ${q}:\n    <- x\n`);
    }
  }
  const exported = [...services, ...shapes.map((s) => s.match(/^func (\w+)/)[1])];
  return [
    "aqua StdlibProbe",
    "",
    `export ${exported.join(", ")}`,
    "",
    ...imports,
    ...uses,
    "",
    ...shapes,
  ].join("\n");
}

async function compile(filePath, libDir) {
  const result = await compileFromPath({
    filePath,
    imports: { "/": { [PREFIX]: [libDir] } },
    targetType: "air",
  });
  const problems = [
    ...(result.errors ?? []).map((e) => `error: ${plain(e)}`),
    ...(result.warnings ?? []).map((w) => `warning: ${plain(w)}`),
  ];
  return { result, problems };
}

// --- Comparison -----------------------------------------------------------

function compareMaps(what, ours, theirs, report) {
  const keys = new Set([...ours.keys(), ...theirs.keys()]);
  for (const k of [...keys].sort()) {
    if (!theirs.has(k)) report(`${what} ${k}: only in ours (${ours.get(k)})`);
    else if (!ours.has(k)) report(`${what} ${k}: only in theirs (${theirs.get(k)})`);
    else if (ours.get(k) !== theirs.get(k)) {
      report(`${what} ${k}: ours ${ours.get(k)}\n      theirs ${theirs.get(k)}`);
    }
  }
}

async function checkAgainst(libDir, ourDecl, tmp) {
  const differences = [];
  const report = (s) => differences.push(s);

  const theirDecl = await scanDir(libDir);
  const common = new Map();
  const headers = new Map();
  for (const file of FILES) {
    const o = ourDecl.get(file);
    const t = theirDecl.get(file);
    if (o.header !== t.header) {
      report(`${file}: header ours \`aqua ${o.header}\`, theirs \`aqua ${t.header}\``);
    }
    headers.set(file, t.header);
    const kinds = (d) => new Map([...d.names].map(([n, k]) => [n, k]));
    compareMaps(`${file}: name`, kinds(o), kinds(t), report);
    common.set(file, new Map([...o.names].filter(([n, k]) => t.names.get(n) === k)));
    for (const [name, fields] of o.dataFields) {
      const theirs = t.dataFields.get(name);
      const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
      if (theirs && !same(fields, theirs) && same([...fields].sort(), [...theirs].sort())) {
        report(`${file}: data ${name}: field order ours [${fields}], theirs [${theirs}]`);
      }
    }
  }

  // The probe uses only what both sides declare: missing names are already
  // reported, and the rest still gets compared.
  const probePath = path.join(tmp, "probe.aqua");
  await writeFile(probePath, probeProgram(common, headers));
  const ours = await compile(probePath, ourDir);
  const theirs = await compile(probePath, libDir);
  for (const [side, c] of [["ours", ours], ["theirs", theirs]]) {
    for (const p of c.problems) report(`probe against ${side}: ${p}`);
  }
  if (ours.problems.length === 0 && theirs.problems.length === 0) {
    const o = summarize(ours.result);
    const t = summarize(theirs.result);
    compareMaps("service", o.services, t.services, report);
    compareMaps("type", o.shapes, t.shapes, report);
    compareMaps("struct", o.structs, t.structs, report);
    const counts = [
      `${o.services.size} service entries`,
      `${o.shapes.size} types`,
      `${o.structs.size} structs`,
    ];
    console.log(`  compared ${counts.join(", ")}`);
  }
  return differences;
}

// The ```aqua blocks of a Markdown text, with the line of their opening fence.
function aquaBlocks(markdown) {
  const blocks = [];
  let open = null;
  markdown.split("\n").forEach((line, i) => {
    if (open === null && line.startsWith("```aqua")) open = { line: i + 1, text: [] };
    else if (open !== null && line.startsWith("```")) {
      blocks.push({ line: open.line, text: open.text.join("\n") + "\n" });
      open = null;
    } else if (open !== null) open.text.push(line);
  });
  return blocks;
}

async function main() {
  const dirs = process.argv.slice(2);
  if (dirs.length === 0) dirs.push(npmLibDir);

  let failed = false;
  for (const file of FILES) {
    const { problems } = await compile(path.join(ourDir, file), ourDir);
    for (const p of problems) {
      console.error(`stdlib/${file}: ${p}`);
      failed = true;
    }
  }
  const ourDecl = await scanDir(ourDir);

  const tmp = await mkdtemp(path.join(os.tmpdir(), "stdlib-probe-"));
  try {
    const examples = aquaBlocks(await readFile(bookChapter, "utf8"));
    for (const { line, text } of examples) {
      const example = path.join(tmp, `example-${line}.aqua`);
      await writeFile(example, text);
      const { result, problems } = await compile(example, ourDir);
      if (Object.keys(result.functions ?? {}).length === 0) {
        problems.push("no function compiled");
      }
      for (const p of problems) {
        console.error(`book/src/aqua/stdlib.md:${line}: ${p}`);
        failed = true;
      }
    }
    console.log(`book: ${examples.length} examples compiled`);

    // Existing Aqua code must not notice which library it gets.
    const programs = (await readdir(programsDir)).filter((f) => f.endsWith(".aqua")).sort();
    for (const file of programs) {
      const program = path.join(programsDir, file);
      const ours = await compile(program, ourDir);
      const npm = await compile(program, npmLibDir);
      const air = (c) =>
        JSON.stringify(
          Object.entries(c.result.functions ?? {})
            .map(([name, f]) => [name, f.script])
            .sort(),
        );
      const problems = [
        ...ours.problems,
        ...npm.problems.map((p) => `with npm aqua-lib: ${p}`),
      ];
      if (problems.length === 0 && air(ours) !== air(npm)) {
        problems.push("AIR differs from the AIR compiled with npm aqua-lib");
      }
      for (const p of problems) {
        console.error(`programs/${file}: ${p}`);
        failed = true;
      }
    }
    console.log(`corpus: ${programs.length} programs compiled against our files`);
    for (const dir of dirs) {
      const libDir = path.resolve(dir);
      let version = "unknown version";
      try {
        version = JSON.parse(await readFile(path.join(libDir, "package.json"), "utf8")).version;
      } catch {
        // A bare copy of the .aqua files has no package.json.
      }
      console.log(`stdlib vs ${libDir} (${version}):`);
      const differences = await checkAgainst(libDir, ourDecl, tmp);
      for (const d of differences) console.log(`  DIFF ${d}`);
      console.log(`  ${differences.length} difference(s)`);
      if (differences.length > 0) failed = true;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  if (failed) process.exit(1);
}

main().catch((e) => {
  console.error(plain(e?.stack ?? e));
  process.exit(1);
});

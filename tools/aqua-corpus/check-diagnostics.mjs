#!/usr/bin/env node
// Runs the reference Aqua compiler (@fluencelabs/aqua-api) over the negative
// corpus in aqua/tests/diagnostics and reports, per case, whether the
// reference rejects it as the case's header says it should.
//
// For every case it also checks the header itself:
//   - `-- at:` must name text that really is at that line and column, so the
//     expected span cannot drift when a case is edited;
//   - `-- fix:` (optional) rewrites the source: `-- fix: `new`` replaces the
//     `at` text, `-- fix: insert `x` at [file:]L:C` inserts, and
//     `-- fix: replace `old` at [file:]L:C with `new`` rewrites any text; the
//     fixed program must then be accepted without warnings, which shows the
//     case holds exactly one problem.
//
// The reference's messages are never written anywhere; with --positions only
// the line:col of each reference diagnostic is printed, to compare spans.
//
// Usage: cd tools/aqua-corpus && npm ci && node check-diagnostics.mjs [--positions] [filter...]
// Exit status: 0 when every case agrees with its header, 1 otherwise.

import { compileFromPath } from "@fluencelabs/aqua-api";
import { spawnSync } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const corpusDir = path.resolve(here, "../../aqua/tests/diagnostics");
const nodeModules = path.join(here, "node_modules");

const plain = (s) => String(s).replace(/\u001b\[[0-9;]*m/g, "");

// A case is a single `.aqua` file in an area folder, or a folder with a
// `main.aqua`. `gen_*.py` scripts write further single-file cases at run time.
async function collectCases(tmpRoot) {
  const cases = [];
  const areas = (await readdir(corpusDir, { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  for (const area of areas) {
    const areaDir = path.join(corpusDir, area);
    for (const entry of (await readdir(areaDir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const full = path.join(areaDir, entry.name);
      if (entry.isFile() && entry.name.endsWith(".aqua")) {
        cases.push({ name: `${area}/${entry.name.slice(0, -5)}`, dir: null, main: full });
      } else if (entry.isDirectory()) {
        const main = path.join(full, "main.aqua");
        if (!(await exists(main))) throw new Error(`${full}: a multi-file case needs main.aqua`);
        cases.push({ name: `${area}/${entry.name}`, dir: full, main });
      } else if (entry.isFile() && /^gen_.*\.py$/.test(entry.name)) {
        const out = await mkdtemp(path.join(tmpRoot, "gen-"));
        const run = spawnSync("python3", [full, out], { encoding: "utf8" });
        if (run.status !== 0) throw new Error(`${full} failed:\n${run.stderr}`);
        for (const f of (await readdir(out)).filter((f) => f.endsWith(".aqua")).sort()) {
          cases.push({
            name: `${area}/${f.slice(0, -5)} (from ${entry.name})`,
            dir: null,
            main: path.join(out, f),
          });
        }
      }
    }
  }
  return cases;
}

async function exists(p) {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

// `\t`, `\n`, `\\` and `\xNN` let a header name tabs and raw bytes.
function unescape(text) {
  const bytes = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\\" && i + 1 < text.length) {
      const next = text[i + 1];
      if (next === "x" && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
        bytes.push(parseInt(text.slice(i + 2, i + 4), 16));
        i += 3;
        continue;
      }
      const simple = { t: "\t", n: "\n", "\\": "\\" }[next];
      if (simple !== undefined) {
        bytes.push(simple.charCodeAt(0));
        i += 1;
        continue;
      }
    }
    bytes.push(...Buffer.from(text[i], "utf8"));
  }
  return Buffer.from(bytes);
}

// A fix that rewrites `old` at an explicit place, maybe in another file of the case.
function edit(file, line, col, old, text) {
  return { file, line: Number(line), col: Number(col), old: unescape(old), text: unescape(text) };
}

function parseHeader(source) {
  const lines = source.toString("utf8").split("\n");
  const problems = [];
  const header = {};
  const caseLine = /^-- case: (\S.*)$/.exec(lines[0] ?? "");
  if (!caseLine) problems.push("line 1 must be `-- case: <description>`");
  else header.description = caseLine[1];
  const at = /^-- at: (?:([^\s:]+):)?(\d+):(\d+) `(.+)`$/.exec(lines[1] ?? "");
  if (!at) problems.push("line 2 must be `-- at: [file:]<line>:<col> `<text>``");
  else {
    header.file = at[1] ?? null;
    header.line = Number(at[2]);
    header.col = Number(at[3]);
    header.text = unescape(at[4]);
  }
  for (const l of lines.slice(2)) {
    if (!l.startsWith("-- ")) break;
    const fix = /^-- fix: `(.*)`$/.exec(l);
    if (fix) header.fix = { text: unescape(fix[1]) };
    const insert = /^-- fix: insert `(.+)` at (?:([^\s:]+):)?(\d+):(\d+)$/.exec(l);
    if (insert) header.fix = edit(insert[2], insert[3], insert[4], "", insert[1]);
    const replace = /^-- fix: replace `(.+)` at (?:([^\s:]+):)?(\d+):(\d+) with `(.*)`$/.exec(l);
    if (replace) header.fix = edit(replace[2], replace[3], replace[4], replace[1], replace[5]);
    const ref = /^-- reference: (accepts|crashes) \((.+)\)$/.exec(l);
    if (ref) header.reference = { accepts: "accepted", crashes: "crashed" }[ref[1]];
    if ((l.startsWith("-- fix:") && !(fix || insert || replace)) || (l.startsWith("-- reference:") && !ref)) {
      problems.push(`malformed header line: ${l}`);
    }
  }
  return { header, problems };
}

// Byte offset of (line, col), both 1-based. A column is one UTF-8 character;
// each byte that is not part of a valid UTF-8 sequence is a column of its own.
function offsetOf(buf, line, col) {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = buf.indexOf(0x0a, offset);
    if (nl < 0) return -1;
    offset = nl + 1;
  }
  for (let c = 1; c < col; c++) {
    if (offset >= buf.length || buf[offset] === 0x0a) return -1;
    offset += utf8Length(buf, offset);
  }
  return offset;
}

function utf8Length(buf, i) {
  const b = buf[i];
  const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
  if (len === 0) return 1;
  for (let k = 1; k < len; k++) {
    if (i + k >= buf.length || (buf[i + k] & 0xc0) !== 0x80) return 1;
  }
  return len;
}

async function compile(filePath) {
  try {
    const result = await compileFromPath({ filePath, imports: [nodeModules], targetType: "air" });
    const errors = (result.errors ?? []).map(plain);
    const warnings = (result.warnings ?? []).length;
    return { outcome: errors.length === 0 ? "accepted" : "rejected", errors, warnings };
  } catch (e) {
    return { outcome: "crashed", errors: [plain(e?.message ?? e)], warnings: 0 };
  }
}

const VERB = { accepted: "accepts", rejected: "rejects", crashed: "crashes on" };
const MARKER = { accepted: "accepts", crashed: "crashes" };

// Only where the reference points, never what it says.
function positions(errors) {
  const found = [];
  for (const e of errors) {
    const m = /^---- [^:]*: (.*?):(\d+):(\d+)/m.exec(e);
    found.push(m ? `${path.basename(m[1])}:${m[2]}:${m[3]}` : "(no position)");
  }
  return found;
}

async function checkCase(c, tmpRoot, showPositions) {
  const report = { name: c.name, failures: [], notes: [] };
  const mainSource = await readFile(c.main);
  const { header, problems } = parseHeader(mainSource);
  report.failures.push(...problems);
  if (problems.length > 0) return report;

  // The expected span must name the text that is really there.
  const targetName = header.file ?? "main.aqua";
  if (header.file && !c.dir) report.failures.push("`at` names a file, but the case is a single file");
  const target = c.dir ? path.join(c.dir, targetName) : c.main;
  const targetSource = c.dir ? await readFile(target).catch(() => null) : mainSource;
  if (targetSource === null) report.failures.push(`\`at\` names a missing file ${targetName}`);
  let offset = targetSource ? offsetOf(targetSource, header.line, header.col) : -1;
  if (targetSource && (offset < 0 || !targetSource.subarray(offset, offset + header.text.length).equals(header.text))) {
    report.failures.push(`\`at\` text is not at ${header.line}:${header.col}`);
    offset = -1;
  }

  const res = await compile(c.main);
  report.outcome = res.outcome;
  const expected = header.reference ?? "rejected";
  if (res.outcome !== expected) {
    const marked = header.reference ? `marked \`reference: ${MARKER[header.reference]}\`, but ` : "";
    report.failures.push(`${marked}the reference ${VERB[res.outcome]} it`);
  }
  if (res.outcome === "rejected") {
    const pos = positions(res.errors);
    const ours = `${path.basename(target)}:${header.line}:`;
    report.pointsAtOurLine = pos.some((p) => p.startsWith(ours));
    if (showPositions) {
      report.notes.push(`reference at ${pos.join(", ")}${report.pointsAtOurLine ? "" : " (not our line)"}`);
    }
  }

  // Applying the fix must leave a program the reference accepts, without warnings.
  if (header.fix !== undefined && offset >= 0) {
    const { file, line, col, text } = header.fix;
    const fixName = file ?? targetName;
    const fixSource =
      fixName === targetName ? targetSource : await readFile(path.join(c.dir ?? "", fixName)).catch(() => null);
    // A bare `-- fix: `new`` rewrites the `at` text itself.
    const old = line === undefined ? header.text : header.fix.old;
    const start = line === undefined ? offset : fixSource ? offsetOf(fixSource, line, col) : -1;
    if ((file && !c.dir) || start < 0 || !fixSource.subarray(start, start + old.length).equals(old)) {
      report.failures.push(`the fix does not match the text at ${file ? `${file}:` : ""}${line}:${col}`);
    } else {
      const work = await mkdtemp(path.join(tmpRoot, "fix-"));
      if (c.dir) await cp(c.dir, work, { recursive: true });
      const fixed = Buffer.concat([fixSource.subarray(0, start), text, fixSource.subarray(start + old.length)]);
      await writeFile(path.join(work, c.dir ? fixName : "main.aqua"), fixed);
      const fixedRes = await compile(path.join(work, "main.aqua"));
      report.fixed = fixedRes.outcome;
      if (fixedRes.outcome !== "accepted") {
        report.failures.push(
          `the fixed program is ${fixedRes.outcome}` +
            (showPositions ? ` (reference at ${positions(fixedRes.errors).join(", ")})` : ""),
        );
      }
      // A warning on the fixed program means the case holds a second, lesser problem.
      if (fixedRes.warnings > 0) report.failures.push(`the fixed program has ${fixedRes.warnings} warning(s)`);
    }
  }
  return report;
}

async function main() {
  const args = process.argv.slice(2);
  const showPositions = args.includes("--positions");
  const filters = args.filter((a) => !a.startsWith("--"));
  const tmpRoot = await mkdtemp(path.join(os.tmpdir(), "aqua-diagnostics-"));
  try {
    const cases = (await collectCases(tmpRoot)).filter(
      (c) => filters.length === 0 || filters.some((f) => c.name.includes(f)),
    );
    if (cases.length === 0) throw new Error(`no cases under ${corpusDir}`);

    const counts = { rejected: 0, accepted: 0, crashed: 0 };
    const perArea = new Map();
    let failed = 0;
    let withFix = 0;
    let onOurLine = 0;
    let rejected = 0;
    for (const c of cases) {
      const r = await checkCase(c, tmpRoot, showPositions);
      if (r.outcome) counts[r.outcome]++;
      const area = c.name.split("/")[0];
      perArea.set(area, (perArea.get(area) ?? 0) + 1);
      if (r.fixed) withFix++;
      if (r.outcome === "rejected") {
        rejected++;
        if (r.pointsAtOurLine) onOurLine++;
      }
      const status = r.failures.length > 0 ? "FAIL" : "ok  ";
      if (r.failures.length > 0) failed++;
      const detail = [...r.failures, ...r.notes].join("; ");
      if (r.failures.length > 0 || showPositions || r.notes.length > 0) {
        console.log(`${status} ${r.name}: reference ${r.outcome ?? "-"}${detail ? ` | ${detail}` : ""}`);
      }
    }
    console.log(
      `\n${cases.length} cases (${[...perArea].map(([a, n]) => `${a} ${n}`).join(", ")})\n` +
        `reference: ${counts.rejected} rejected, ${counts.accepted} accepted, ${counts.crashed} crashed; ` +
        `${withFix} cases with a fix; reference points at the expected line in ${onOurLine}/${rejected} rejections\n` +
        `${failed} cases disagree with their headers`,
    );
    if (failed > 0) process.exitCode = 1;
  } finally {
    await rm(tmpRoot, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(plain(e?.stack ?? e));
  process.exit(1);
});

/**
 * The shape of the house (docs/architecture.md#layers-and-the-import-rule), checked on every run:
 *
 * - every import under lib/ points down the layers `cli → nsqd, nsqlookupd, nsqadmin, tools →
 *   client, gossip, http → protocol → internal`: nothing under lib/protocol or lib/internal
 *   imports a daemon, tool or service folder, and no daemon or tool imports another's folder;
 * - no file cites a document outside the repository (comments cite docs/ or NSQ's own files);
 * - every `docs/<file>.md#anchor` cited anywhere names an existing document and heading, and every
 *   lib/, test/ or scripts/ path named in docs/ exists.
 *
 * Each failure names the file, the line and the rule. Imports are read from the source text:
 * top-level `import`/`export ... from` statements (deno fmt puts them at column 0) and
 * `import("...")` with a string literal, type-only imports included.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** Folders under lib/ and the folders each may import (its own folder always allowed). */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  internal: [],
  protocol: ["internal"],
  http: ["protocol", "internal"],
  client: ["protocol", "internal"],
  gossip: ["protocol", "internal"],
  nsqd: ["client", "gossip", "http", "protocol", "internal"],
  nsqlookupd: ["client", "gossip", "http", "protocol", "internal"],
  nsqadmin: ["client", "gossip", "http", "protocol", "internal"],
  tools: ["client", "gossip", "http", "protocol", "internal"],
  cli: [
    "nsqd",
    "nsqlookupd",
    "nsqadmin",
    "tools",
    "client",
    "gossip",
    "http",
    "protocol",
    "internal",
  ],
};
/** Files directly in lib/ (lib/version.ts): leaves anyone may import; they import only internal. */
const LIB_ROOT = "(lib)";

/** What a folder is, for the failure message. */
function ruleText(folder: string): string {
  const allowed = MAY_IMPORT[folder];
  if (folder === "internal") return "lib/internal imports nothing above it";
  if (folder === "protocol") return "lib/protocol may import only lib/internal";
  if (["http", "client", "gossip"].includes(folder)) {
    return `lib/${folder} may import only lib/protocol and lib/internal`;
  }
  if (folder === "cli") return "lib/cli may import any lib/ folder";
  return `daemons and tools stand apart: lib/${folder} may import only ` +
    allowed.map((f) => `lib/${f}`).join(", ");
}

interface SourceFile {
  /** Path relative to the repository root, with `/`. */
  path: string;
  text: string;
}

async function walk(dir: string, exts: readonly string[], out: SourceFile[]): Promise<void> {
  const url = new URL(dir.endsWith("/") ? dir : `${dir}/`, ROOT);
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(url)];
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const path = `${dir.replace(/\/$/, "")}/${e.name}`;
    if (e.isDirectory) {
      if (e.name === "node_modules" || e.name.startsWith(".")) continue;
      await walk(path, exts, out);
    } else if (e.isFile && exts.some((x) => e.name.endsWith(x))) {
      out.push({ path, text: await Deno.readTextFile(new URL(path, ROOT)) });
    }
  }
}

async function readFiles(paths: readonly string[], exts: readonly string[]): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  for (const p of paths) {
    if (exts.some((x) => p.endsWith(x))) {
      try {
        out.push({ path: p, text: await Deno.readTextFile(new URL(p, ROOT)) });
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    } else {
      await walk(p, exts, out);
    }
  }
  return out;
}

export interface ImportRef {
  specifier: string;
  /** 1-based line of the specifier. */
  line: number;
}

const STATIC_START = /^(import\b|export\s+(type\s+)?(\*|\{))/;
const FROM_SPEC = /\bfrom\s*["']([^"']+)["']/;
const BARE_IMPORT = /^import\s*["']([^"']+)["']/;
const DYNAMIC_IMPORT = /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g;

/** The module specifiers a TypeScript source imports, with their lines. */
export function findImports(text: string): ImportRef[] {
  const lines = text.split("\n");
  const out: ImportRef[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (STATIC_START.test(line)) {
      const bare = BARE_IMPORT.exec(line);
      if (bare !== null) {
        out.push({ specifier: bare[1], line: i + 1 });
        continue;
      }
      // A statement may span lines (`import {\n  a,\n} from "x";`): read to its `from` or `;`.
      for (let j = i; j < lines.length; j++) {
        const m = FROM_SPEC.exec(lines[j]);
        if (m !== null) out.push({ specifier: m[1], line: j + 1 });
        if (m !== null || /;\s*$/.test(lines[j])) {
          i = j;
          break;
        }
      }
      continue;
    }
    const trimmed = line.trimStart();
    if (trimmed.startsWith("*") || trimmed.startsWith("//") || trimmed.startsWith("/*")) continue;
    for (const m of line.matchAll(DYNAMIC_IMPORT)) out.push({ specifier: m[1], line: i + 1 });
  }
  return out;
}

/** The layer of a repository path under lib/: its first folder, or LIB_ROOT for lib/x.ts. */
function libFolder(path: string): string | null {
  const m = /^lib\/([^/]+)(\/.*)?$/.exec(path);
  if (m === null) return null;
  return m[2] === undefined ? LIB_ROOT : m[1];
}

/** Resolves a relative specifier against the importing file's path (both repository-relative). */
function resolvePath(from: string, specifier: string): string {
  const url = new URL(specifier, new URL(from, "file:///repo/"));
  return decodeURIComponent(url.pathname.replace(/^\/repo\//, ""));
}

/** Every import-rule violation in `files` (lib/ sources and main.ts). */
export function importViolations(files: readonly SourceFile[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    const from = libFolder(f.path);
    for (const ref of findImports(f.text)) {
      const spec = ref.specifier;
      if (!spec.startsWith(".") && !spec.startsWith("/") && !spec.startsWith("file:")) continue;
      const target = resolvePath(f.path, spec);
      const at = `${f.path}:${ref.line}: imports "${spec}"`;
      if (from === null) continue; // main.ts sits above everything
      const to = libFolder(target);
      if (to === null) {
        out.push(`${at} (${target}): files under lib/ import only lib/ and packages`);
        continue;
      }
      if (from === LIB_ROOT) {
        if (to !== LIB_ROOT && to !== "internal") {
          out.push(`${at} (${target}): files directly in lib/ may import only lib/internal`);
        }
        continue;
      }
      const allowed = MAY_IMPORT[from];
      if (allowed === undefined) {
        out.push(
          `${f.path}:1: lib/${from} is not a known layer: add it to MAY_IMPORT in ` +
            "test/architecture_test.ts and to docs/architecture.md",
        );
        break;
      }
      if (to === from || to === LIB_ROOT) continue;
      if (MAY_IMPORT[to] === undefined) {
        out.push(`${at} (${target}): lib/${to} is not a known layer`);
      } else if (!allowed.includes(to)) {
        out.push(`${at} (${target}): ${ruleText(from)}`);
      }
    }
  }
  return out;
}

const SECTION = String.fromCharCode(0xa7);
/** Citations of documents that live outside this repository, with what to cite instead. */
const OUTSIDE_DOCS: readonly [RegExp, string][] = [
  [new RegExp(`spec\\s*${SECTION}`, "i"), "a section of an outside spec"],
  [new RegExp(`${SECTION}\\s*\\d`), "a numbered section of an outside spec"],
  [new RegExp(["nsq", "-spec"].join(""), "i"), "an outside spec"],
  [new RegExp(["DESIGN", "\\.md"].join(""), "i"), "an outside design note"],
  [new RegExp(["CONVENTIONS", "\\.md"].join(""), "i"), "an outside conventions note"],
  [new RegExp(["\\.\\./", "shared"].join("")), "a folder outside the repository"],
  [new RegExp(["/work/", "shared"].join("")), "a folder outside the repository"],
];

/** Every citation of a document outside the repository. */
export function citationViolations(files: readonly SourceFile[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    const lines = f.text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      for (const [re, what] of OUTSIDE_DOCS) {
        if (re.test(lines[i])) {
          out.push(
            `${f.path}:${i + 1}: cites ${what} (${lines[i].trim().slice(0, 80)}); ` +
              "cite docs/ or NSQ's own file or page instead",
          );
        }
      }
    }
  }
  return out;
}

/** GitHub's anchor for a markdown heading. */
export function headingAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

function anchorsOf(markdown: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const m = /^#{1,6}\s+(.*)$/.exec(line);
    if (!fenced && m !== null) out.add(headingAnchor(m[1]));
  }
  return out;
}

/** Citations of docs/ (and links between docs) naming a missing file or heading. */
export function docLinkViolations(
  files: readonly SourceFile[],
  docs: ReadonlyMap<string, string>,
): string[] {
  const out: string[] = [];
  const cite = /(?:\bdocs\/|\]\()([\w-]+\.md)(#[\w-]+(?:,\s*#[\w-]+)*)?/g;
  for (const f of files) {
    const lines = f.text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      for (const m of lines[i].matchAll(cite)) {
        // A relative link `](x.md#a)` is resolved against docs/ only inside docs/.
        if (m[0].startsWith("](") && !f.path.startsWith("docs/")) continue;
        const doc = `docs/${m[1]}`;
        const text = docs.get(doc);
        const at = `${f.path}:${i + 1}`;
        if (text === undefined) {
          out.push(`${at}: cites ${doc}, which does not exist`);
          continue;
        }
        const anchors = anchorsOf(text);
        for (const a of (m[2] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "")) {
          if (!anchors.has(a.slice(1))) out.push(`${at}: cites ${doc}${a}: no such heading`);
        }
      }
    }
  }
  return out;
}

/** lib/, test/ and scripts/ paths named in docs/ that do not exist. */
function docPathViolations(docs: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  const pathRe = /\b((?:lib|test|scripts)\/[\w./\\-]*\w\.ts)\b/g;
  for (const [doc, text] of docs) {
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      for (const m of lines[i].matchAll(pathRe)) {
        const path = m[1].replaceAll("\\_", "_");
        try {
          Deno.statSync(new URL(path, ROOT));
        } catch {
          out.push(`${doc}:${i + 1}: names ${path}, which does not exist`);
        }
      }
    }
  }
  return out;
}

function report(violations: string[]): string {
  return `\n${violations.length} violation(s):\n  ${violations.join("\n  ")}\n`;
}

Deno.test("architecture: imports under lib/ point down the layers; no daemon or tool imports another's folder", async () => {
  const files = await readFiles(["lib", "main.ts"], [".ts", ".tsx"]);
  assert.ok(files.length > 50, `found only ${files.length} sources`);
  const violations = importViolations(files);
  assert.deepEqual(violations, [], report(violations));
});

Deno.test("architecture: no file cites a document outside the repository", async () => {
  const files = await readFiles(
    ["lib", "test", "scripts", "docs", "README.md", "main.ts", "deno.json", ".ci"],
    [".ts", ".tsx", ".js", ".md", ".json", "run", ".sh", ".go"],
  );
  const violations = citationViolations(files);
  assert.deepEqual(violations, [], report(violations));
});

Deno.test("architecture: cited docs/ files and headings exist; paths named in docs/ exist", async () => {
  const docFiles = await readFiles(["docs"], [".md"]);
  const docs = new Map(docFiles.map((f) => [f.path, f.text]));
  assert.ok(docs.has("docs/architecture.md"), "docs/architecture.md is missing");
  const files = await readFiles(
    ["lib", "test", "scripts", "docs", "README.md", "main.ts"],
    [".ts", ".tsx", ".md"],
  );
  const violations = [...docLinkViolations(files, docs), ...docPathViolations(docs)];
  assert.deepEqual(violations, [], report(violations));
});

Deno.test("architecture: the checks catch what they must", () => {
  const bad: SourceFile[] = [
    { path: "lib/protocol/x.ts", text: 'import type { Nsqd } from "../nsqd/nsqd.ts";\n' },
    {
      path: "lib/internal/y.ts",
      text: 'import {\n  a,\n  b,\n} from "../protocol/message.ts";\n',
    },
    { path: "lib/nsqadmin/z.ts", text: 'export { Nsqd } from "../nsqd/nsqd.ts";\n' },
    { path: "lib/tools/t.ts", text: 'const m = await import("../nsqlookupd/mod.ts");\n' },
    { path: "lib/client/c.ts", text: 'import "../http/v1.ts";\n' },
    { path: "lib/gossip/g.ts", text: 'import { x } from "../../test/_util/wire.ts";\n' },
  ];
  const v = importViolations(bad);
  assert.equal(v.length, 6, report(v));
  assert.match(v[0], /^lib\/protocol\/x\.ts:1: .*lib\/protocol may import only lib\/internal/);
  assert.match(v[1], /^lib\/internal\/y\.ts:4: .*lib\/internal imports nothing above it/);
  assert.match(v[2], /^lib\/nsqadmin\/z\.ts:1: .*daemons and tools stand apart/);
  assert.match(v[3], /^lib\/tools\/t\.ts:1: .*daemons and tools stand apart/);
  assert.match(v[4], /^lib\/client\/c\.ts:1: .*lib\/client may import only/);
  assert.match(v[5], /^lib\/gossip\/g\.ts:1: .*import only lib\/ and packages/);

  const good: SourceFile[] = [
    {
      path: "lib/nsqd/a.ts",
      text: 'import { x } from "../protocol/message.ts";\nimport type { T } from "./topic.ts";\n' +
        '/** import { y } from "../nsqlookupd/mod.ts"; */\nimport { z } from "npm:hono";\n',
    },
    { path: "lib/cli/b.ts", text: 'import { Nsqd } from "../nsqd/nsqd.ts";\n' },
    { path: "main.ts", text: 'await import("./lib/cli/nsqd.ts");\n' },
  ];
  assert.deepEqual(importViolations(good), []);

  const cites = citationViolations([
    { path: "lib/a.ts", text: `// fine\n// see spec ${SECTION}4.3\n` },
    { path: "README.md", text: ["Design: ../", "shared/DESIGN", ".md\n"].join("") },
  ]);
  assert.equal(cites.length, 4, report(cites));
  assert.match(cites[0], /^lib\/a\.ts:2: cites a section/);

  // Built from pieces so this file does not cite a missing doc itself.
  const d = ["docs", "/"].join("");
  const docs = new Map([[
    `${d}nsqd.md`,
    "# nsqd\n\n## Disk queue\n\n## In-flight and deferred\n",
  ]]);
  assert.deepEqual(
    docLinkViolations([{
      path: "lib/b.ts",
      text: `// ${d}nsqd.md#disk-queue, #in-flight-and-deferred\n// ${d}nsqd.md#nope\n` +
        `// ${d}gone.md\n`,
    }], docs),
    [
      `lib/b.ts:2: cites ${d}nsqd.md#nope: no such heading`,
      `lib/b.ts:3: cites ${d}gone.md, which does not exist`,
    ],
  );
  assert.equal(headingAnchor("Data-path lock"), "data-path-lock");
  assert.equal(headingAnchor("Go NSQ concepts in our tree"), "go-nsq-concepts-in-our-tree");
});

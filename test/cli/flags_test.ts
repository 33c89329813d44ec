import assert from "node:assert/strict";
import {
  type FlagDef,
  FlagError,
  parseFlags,
  parseGoBool,
  parseGoFloat,
  parseGoInt,
} from "../../lib/cli/flags.ts";

const defs = new Map<string, FlagDef>([
  ["name", { name: "name", isBool: false, parse: (t) => t }],
  ["count", { name: "count", isBool: false, parse: (t) => parseGoInt(t) }],
  ["on", { name: "on", isBool: true, parse: parseGoBool }],
]);

function values(argv: string[]) {
  return parseFlags(argv, defs).uses.map((u) => [u.name, u.value]);
}

Deno.test("parseFlags: one or two dashes, = or a separate value", () => {
  assert.deepEqual(values(["-name", "a"]), [["name", "a"]]);
  assert.deepEqual(values(["--name", "a"]), [["name", "a"]]);
  assert.deepEqual(values(["-name=a"]), [["name", "a"]]);
  assert.deepEqual(values(["--name=a=b"]), [["name", "a=b"]]);
  assert.deepEqual(values(["--name="]), [["name", ""]]);
  assert.deepEqual(values(["--name", "-x"]), [["name", "-x"]]); // a value may start with a dash
  assert.deepEqual(values(["--count", "10", "-count=0x10"]), [["count", 10], ["count", 16]]);
});

Deno.test("parseFlags: booleans never consume the next argument", () => {
  assert.deepEqual(values(["-on"]), [["on", true]]);
  assert.deepEqual(values(["--on=false"]), [["on", false]]);
  for (const t of ["1", "t", "T", "TRUE", "true", "True"]) {
    assert.deepEqual(values([`-on=${t}`]), [["on", true]]);
  }
  for (const f of ["0", "f", "F", "FALSE", "false", "False"]) {
    assert.deepEqual(values([`-on=${f}`]), [["on", false]]);
  }
  const r = parseFlags(["--on", "false", "--name", "x"], defs);
  assert.deepEqual(r.uses.map((u) => [u.name, u.value]), [["on", true]]);
  assert.deepEqual(r.rest, ["false", "--name", "x"]); // "false" is the first non-flag argument
});

Deno.test("parseFlags: -- and non-flag arguments end the flags", () => {
  let r = parseFlags(["--name", "a", "--", "--count", "1"], defs);
  assert.deepEqual(r.rest, ["--count", "1"]);
  r = parseFlags(["positional", "--count", "1"], defs);
  assert.deepEqual([r.uses.length, r.rest], [0, ["positional", "--count", "1"]]);
  r = parseFlags(["-", "--count", "1"], defs);
  assert.deepEqual(r.rest, ["-", "--count", "1"]);
});

Deno.test("parseFlags: help", () => {
  for (const h of ["-h", "--h", "-help", "--help", "--help=false"]) {
    assert.equal(parseFlags(["--name", "a", h, "--unknown"], defs).help, true, h);
  }
  assert.equal(parseFlags(["--name", "a"], defs).help, false);
});

Deno.test("parseFlags: Go's error messages", () => {
  const err = (argv: string[]) => {
    try {
      parseFlags(argv, defs);
    } catch (e) {
      assert.ok(e instanceof FlagError);
      return e.message;
    }
    assert.fail("no error");
  };
  assert.equal(err(["--nope"]), "flag provided but not defined: -nope");
  assert.equal(err(["-nope=1"]), "flag provided but not defined: -nope");
  assert.equal(err(["--name"]), "flag needs an argument: -name");
  assert.equal(err(["---name"]), "bad flag syntax: ---name");
  assert.equal(err(["-=x"]), "bad flag syntax: -=x");
  assert.equal(err(["--count", "abc"]), 'invalid value "abc" for flag -count: parse error');
  assert.equal(
    err(["--count=99999999999999999999"]),
    'invalid value "99999999999999999999" for flag -count: value out of range',
  );
  assert.equal(err(["--on=yes"]), 'invalid boolean value "yes" for -on: parse error');
  // errors come in command-line order
  assert.equal(err(["--count", "x", "--nope"]), 'invalid value "x" for flag -count: parse error');
});

Deno.test("parseGoInt: strconv.ParseInt(s, 0, 64)", () => {
  const ok: [string, number][] = [
    ["0", 0],
    ["42", 42],
    ["-42", -42],
    ["+7", 7],
    ["0x1F", 31],
    ["0X1f", 31],
    ["0o17", 15],
    ["017", 15],
    ["0b101", 5],
    ["1_000", 1000],
    ["0x_1F", 31],
  ];
  for (const [t, n] of ok) assert.equal(parseGoInt(t), n, t);
  for (const bad of ["", "abc", "1.5", "08", "1__0", "_1", "1_", " 1", "0x", "1e3"]) {
    assert.throws(() => parseGoInt(bad), /parse error/, bad);
  }
  assert.throws(() => parseGoInt("9223372036854775808"), /value out of range/);
  assert.equal(parseGoInt("9223372036854775807"), 9223372036854775807);
  assert.throws(() => parseGoInt("0x10", true), /parse error/); // base 10 only
  assert.equal(parseGoInt("010", true), 10);
});

Deno.test("parseGoFloat and parseGoBool", () => {
  assert.equal(parseGoFloat("0.99"), 0.99);
  assert.equal(parseGoFloat("1"), 1);
  assert.equal(parseGoFloat(".5"), 0.5);
  assert.equal(parseGoFloat("1e-2"), 0.01);
  assert.equal(parseGoFloat("-Inf"), -Infinity);
  for (const bad of ["", "abc", "1,0", "0.9.9", " 1"]) assert.throws(() => parseGoFloat(bad), bad);
  for (const bad of ["yes", "no", "tRuE", "", "2"]) assert.throws(() => parseGoBool(bad), bad);
});

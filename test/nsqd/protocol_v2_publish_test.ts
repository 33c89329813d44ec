/**
 * Protocol V2 wire tests, part 2 (https://nsq.io/clients/tcp_protocol_spec.html): command framing,
 * unknown and empty commands, the 16 KiB line limit, pipelining, every publish error text,
 * MPUB atomicity, name validation and Go `%q` quoting in error texts.
 */
import assert from "node:assert/strict";
import { startNsqd, uniqueName } from "../_util/nsqd.ts";
import { cat, encodeCommand, encodeMpubBody, int32, V2Conn } from "../_util/wire.ts";
import { connectSub, expectFatal, fatalOn } from "../_util/protocol.ts";
import { waitFor } from "../_util/wait.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Bytes decoded one char per byte (for building raw-byte lines). */
function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (ch) => ch.charCodeAt(0));
}

// ---- framing -----------------------------------------------------------------------------------

Deno.test("framing: unknown and empty commands are fatal E_INVALID invalid command", async () => {
  await using s = await startNsqd();
  await fatalOn(s, "FOO\n", "E_INVALID invalid command FOO");
  await fatalOn(s, "pub t\n", "E_INVALID invalid command pub");
  await fatalOn(s, "FOO bar baz\n", "E_INVALID invalid command FOO");
  await fatalOn(s, "\n", "E_INVALID invalid command ");
  await fatalOn(s, "\r\n", "E_INVALID invalid command ");
  await fatalOn(s, " NOP\n", "E_INVALID invalid command ");
});

// NSQ echoes the raw bytes of the command name (no re-encoding of non-ASCII or invalid UTF-8).
Deno.test({
  name: "framing: an unknown command with non-ASCII bytes is echoed byte for byte",
  fn: async () => {
    await using s = await startNsqd();
    await fatalOn(
      s,
      cat(enc.encode("É"), "\n"),
      cat("E_INVALID invalid command ", enc.encode("É")),
    );
    await fatalOn(
      s,
      cat(bytes("\xff\xfe"), "\n"),
      cat("E_INVALID invalid command ", bytes("\xff\xfe")),
    );
  },
});

Deno.test("framing: \\r\\n line endings are accepted", async () => {
  await using s = await startNsqd();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.send(cat(`PUB ${uniqueName()}\r\n`, int32(1), "x"));
  await c.expectResponse("OK");
  await c.send("NOP\r\n");
  await c.send(cat(`PUB ${uniqueName()}\n`, int32(1), "y"));
  await c.expectResponse("OK");
});

Deno.test("framing: NOP has no response in any state", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.nop();
  await c.send("NOP with ignored params\n");
  await c.pub(topic, "a");
  await c.expectResponse("OK"); // the first frame is the PUB's OK
  await c.sub(topic, "ch");
  await c.expectResponse("OK");
  await c.nop();
  await c.pub(topic, "b");
  await c.expectResponse("OK");
});

Deno.test("framing: a 16 KiB line is accepted, one byte more closes without an error frame", async () => {
  await using s = await startNsqd();
  {
    // "NOP " + padding + "\n" = exactly 16384 bytes: fits Go's 16 KiB bufio buffer
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.send("NOP " + "x".repeat(16384 - 5) + "\n");
    await c.pub(uniqueName(), "after");
    await c.expectResponse("OK");
  }
  {
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.send("NOP " + "x".repeat(16384 - 4) + "\n");
    await c.expectClosed();
  }
  {
    // no newline at all: closed once 16 KiB are buffered
    await using c = await V2Conn.connect(s.tcpAddress);
    await c.send("PUB " + "y".repeat(20_000));
    await c.expectClosed();
  }
});

Deno.test("framing: commands split at every byte boundary still parse", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using c = await V2Conn.connect(s.tcpAddress);
  const raw = cat(
    encodeCommand("PUB", [topic], "hello"),
    encodeCommand("MPUB", [topic], encodeMpubBody(["a", "bb"])),
    encodeCommand("DPUB", [topic, "0"], "d"),
  );
  for (let i = 0; i < raw.length; i++) await c.send(raw.subarray(i, i + 1));
  for (let i = 0; i < 3; i++) await c.expectResponse("OK");
  await using sub = await connectSub(s, topic, "ch", { rdy: 100 });
  const got = [];
  for (let i = 0; i < 4; i++) got.push(dec.decode((await sub.expectMessage()).body));
  assert.deepEqual(got.sort(), ["a", "bb", "d", "hello"]);
});

Deno.test("framing: pipelined commands are answered in order", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.send(cat(
    encodeCommand("PUB", [topic], "1"),
    encodeCommand("NOP"),
    encodeCommand("MPUB", [topic], encodeMpubBody(["2", "3"])),
    encodeCommand("DPUB", [topic, "0"], "4"),
    encodeCommand("SUB", [topic, "ch"]),
    encodeCommand("FIN", ["0000000000000000"]),
    encodeCommand("PUB", [topic], "5"),
    encodeCommand("REQ", ["1111111111111111", "0"]),
    encodeCommand("TOUCH", ["2222222222222222"]),
    encodeCommand("CLS"),
    encodeCommand("BOGUS"),
    encodeCommand("PUB", [topic], "never"),
  ));
  for (let i = 0; i < 4; i++) await c.expectResponse("OK");
  let f = await c.expectError("E_FIN_FAILED");
  assert.equal(f.text, "E_FIN_FAILED FIN 0000000000000000 failed ID not in flight");
  await c.expectResponse("OK");
  f = await c.expectError("E_REQ_FAILED");
  assert.equal(f.text, "E_REQ_FAILED REQ 1111111111111111 failed ID not in flight");
  f = await c.expectError("E_TOUCH_FAILED");
  assert.equal(f.text, "E_TOUCH_FAILED TOUCH 2222222222222222 failed ID not in flight");
  await c.expectResponse("CLOSE_WAIT");
  await expectFatal(c, "E_INVALID invalid command BOGUS");
  assert.equal(s.nsqd.getTopic(topic).messageCount, 5);
});

Deno.test("framing: many small publishes in one write all get their OK", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using c = await V2Conn.connect(s.tcpAddress);
  const n = 2000;
  const parts: Uint8Array[] = [];
  for (let i = 0; i < n; i++) parts.push(encodeCommand("PUB", [topic], `m${i}`));
  await c.send(cat(...parts));
  for (let i = 0; i < n; i++) await c.expectResponse("OK");
  assert.equal(s.nsqd.getTopic(topic).messageCount, n);
});

Deno.test("framing: extra parameters are ignored, as in NSQ", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.send(encodeCommand("IDENTIFY", ["extra"], "{}"));
  await c.expectResponse("OK");
  await c.send(encodeCommand("PUB", [t, "extra"], "p"));
  await c.expectResponse("OK");
  await c.send(encodeCommand("MPUB", [t, "x", "y"], encodeMpubBody(["m"])));
  await c.expectResponse("OK");
  await c.send(encodeCommand("DPUB", [t, "0", "extra"], "d"));
  await c.expectResponse("OK");
  await c.send(encodeCommand("SUB", [t, "ch", "extra"]));
  await c.expectResponse("OK");
  await c.send(encodeCommand("RDY", ["3", "extra"]));
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await c.expectMessage()).id);
  await c.send(encodeCommand("RDY", ["0", "extra"])); // so the REQ below is not redelivered
  await c.send(encodeCommand("TOUCH", [ids[0], "extra"]));
  await c.send(encodeCommand("FIN", [ids[0], "extra"]));
  await c.send(encodeCommand("REQ", [ids[1], "0", "extra"]));
  await c.send(encodeCommand("NOP", ["extra"]));
  await c.send(encodeCommand("PUB", ["sync_side_topic"], "s"));
  await c.expectResponse("OK"); // no error for any of the above
  await c.send(encodeCommand("CLS", ["extra"]));
  await c.expectResponse("CLOSE_WAIT");
});

// ---- PUB ---------------------------------------------------------------------------------------

Deno.test("PUB: parameter, topic and size errors", async () => {
  await using s = await startNsqd({ maxMsgSize: 100 });
  const t = uniqueName();
  await fatalOn(s, "PUB\n", "E_INVALID PUB insufficient number of parameters");
  // the topic is checked before the body is read: no size sent here
  await fatalOn(s, "PUB bad!topic\n", 'E_BAD_TOPIC PUB topic name "bad!topic" is not valid');
  await fatalOn(s, "PUB \n", 'E_BAD_TOPIC PUB topic name "" is not valid');
  await fatalOn(s, cat(`PUB ${t}\n`, int32(0)), "E_BAD_MESSAGE PUB invalid message body size 0");
  await fatalOn(s, cat(`PUB ${t}\n`, int32(-1)), "E_BAD_MESSAGE PUB invalid message body size -1");
  await fatalOn(s, cat(`PUB ${t}\n`, int32(101)), "E_BAD_MESSAGE PUB message too big 101 > 100");
  await fatalOn(
    s,
    cat(`PUB ${t}\n`, int32(0x7fffffff)),
    "E_BAD_MESSAGE PUB message too big 2147483647 > 100",
  );
  assert.equal(s.nsqd.getExistingTopic(t), undefined, "failed PUBs create no topic");
});

Deno.test("PUB: a body of exactly --max-msg-size is accepted and delivered intact", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  const body = new Uint8Array(1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7 + 3) & 0xff;
  await using p = await V2Conn.connect(s.tcpAddress);
  await p.pub(topic, body);
  await p.expectResponse("OK");
  await using c = await connectSub(s, topic, "ch", { rdy: 100 });
  const m = await c.expectMessage();
  assert.equal(m.body.length, body.length);
  assert.deepEqual(m.body, body);
});

Deno.test("PUB: works after SUB on the same connection (no state check)", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.sub(topic, "ch");
  await c.expectResponse("OK");
  await c.rdy(1);
  await c.pub(topic, "self");
  // the message and the OK may come in either order
  const frames = [await c.readFrame(), await c.readFrame()];
  assert.deepEqual(frames.map((f) => f.type).sort(), [0, 2]);
  assert.equal(frames.find((f) => f.type === 2)!.text, "self");
});

// ---- MPUB --------------------------------------------------------------------------------------

Deno.test("MPUB: parameter and topic errors (the topic text repeats E_BAD_TOPIC)", async () => {
  await using s = await startNsqd();
  await fatalOn(s, "MPUB\n", "E_INVALID MPUB insufficient number of parameters");
  await fatalOn(s, "MPUB t!\n", 'E_BAD_TOPIC E_BAD_TOPIC MPUB topic name "t!" is not valid');
});

Deno.test("MPUB: body size and message count errors", async () => {
  await using s = await startNsqd({ maxBodySize: 1004, maxMsgSize: 10 });
  const t = uniqueName();
  const line = `MPUB ${t}\n`;
  await fatalOn(s, cat(line, int32(0)), "E_BAD_BODY MPUB invalid body size 0");
  await fatalOn(s, cat(line, int32(-5)), "E_BAD_BODY MPUB invalid body size -5");
  await fatalOn(s, cat(line, int32(1005)), "E_BAD_BODY MPUB body too big 1005 > 1004");
  await fatalOn(s, cat(line, int32(100), int32(0)), "E_BAD_BODY MPUB invalid message count 0");
  await fatalOn(s, cat(line, int32(100), int32(-1)), "E_BAD_BODY MPUB invalid message count -1");
  // valid counts are 1..(max-body-size - 4) / 5 = 200
  await fatalOn(s, cat(line, int32(100), int32(201)), "E_BAD_BODY MPUB invalid message count 201");
  // the topic is created before the body is validated
  assert.ok(s.nsqd.getExistingTopic(t) !== undefined);
  assert.equal(s.nsqd.getExistingTopic(t)!.depth, 0);
});

Deno.test("MPUB: per-message errors name the index", async () => {
  await using s = await startNsqd({ maxMsgSize: 10 });
  const t = uniqueName();
  const line = `MPUB ${t}\n`;
  const one = cat(int32(1), "a");
  await fatalOn(
    s,
    cat(line, int32(100), int32(3), one, int32(0)),
    "E_BAD_MESSAGE MPUB invalid message(1) body size 0",
  );
  await fatalOn(
    s,
    cat(line, int32(100), int32(3), one, one, int32(-7)),
    "E_BAD_MESSAGE MPUB invalid message(2) body size -7",
  );
  await fatalOn(
    s,
    cat(line, int32(100), int32(2), int32(11)),
    "E_BAD_MESSAGE MPUB message too big 11 > 10",
  );
});

Deno.test("MPUB: one bad message queues none (atomic)", async () => {
  await using s = await startNsqd({ maxMsgSize: 10 });
  const topic = uniqueName();
  await using c = await connectSub(s, topic, "ch", { rdy: 100 });
  await using p = await V2Conn.connect(s.tcpAddress);
  const good = encodeMpubBody(["a", "b"]);
  // message 2 is too big: messages 0 and 1 must not be queued
  const body = cat(int32(3), good.subarray(4), int32(11), "x".repeat(11));
  await p.send(cat(`MPUB ${topic}\n`, int32(body.length), body));
  await expectFatal(p, "E_BAD_MESSAGE MPUB message too big 11 > 10");
  assert.equal(s.nsqd.getTopic(topic).messageCount, 0);
  await using q = await V2Conn.connect(s.tcpAddress);
  await q.pub(topic, "only");
  await q.expectResponse("OK");
  const m = await c.expectMessage();
  assert.equal(dec.decode(m.body), "only");
});

Deno.test("MPUB: delivers every message in order with distinct ids", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.sub(topic, "ch");
  await c.expectResponse("OK");
  await c.rdy(1); // one at a time: delivery order = queue order
  await using p = await V2Conn.connect(s.tcpAddress);
  const bodies = Array.from({ length: 50 }, (_, i) => `body-${i}`);
  await p.mpub(topic, bodies);
  await p.expectResponse("OK");
  const ids = new Set<string>();
  for (const b of bodies) {
    const m = await c.expectMessage();
    assert.equal(dec.decode(m.body), b);
    ids.add(m.id);
    await c.fin(m.id);
  }
  assert.equal(ids.size, bodies.length);
});

Deno.test("MPUB: the outer size is not checked against the inner structure", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using p = await V2Conn.connect(s.tcpAddress);
  // outer size larger than what follows: parsing goes by the inner structure
  await p.send(cat(`MPUB ${topic}\n`, int32(9999), encodeMpubBody(["abc"])));
  await p.expectResponse("OK");
  // outer size smaller than what follows
  await p.send(cat(`MPUB ${topic}\n`, int32(5), encodeMpubBody(["de", "fgh"])));
  await p.expectResponse("OK");
  await p.pub(topic, "next");
  await p.expectResponse("OK");
  assert.equal(s.nsqd.getTopic(topic).messageCount, 4);
});

// ---- DPUB --------------------------------------------------------------------------------------

Deno.test("DPUB: parameter, topic, timeout and size errors", async () => {
  await using s = await startNsqd({ maxMsgSize: 100, maxReqTimeout: 5000 });
  const t = uniqueName();
  await fatalOn(s, "DPUB\n", "E_INVALID DPUB insufficient number of parameters");
  await fatalOn(s, `DPUB ${t}\n`, "E_INVALID DPUB insufficient number of parameters");
  await fatalOn(s, "DPUB t! 10\n", 'E_BAD_TOPIC DPUB topic name "t!" is not valid');
  await fatalOn(s, `DPUB ${t} abc\n`, "E_INVALID DPUB could not parse timeout abc");
  await fatalOn(s, `DPUB ${t} -1\n`, "E_INVALID DPUB could not parse timeout -1");
  await fatalOn(s, `DPUB ${t} 1.5\n`, "E_INVALID DPUB could not parse timeout 1.5");
  await fatalOn(s, `DPUB ${t} 5001\n`, "E_INVALID DPUB timeout 5001 out of range 0-5000");
  await fatalOn(
    s,
    cat(`DPUB ${t} 10\n`, int32(0)),
    "E_BAD_MESSAGE DPUB invalid message body size 0",
  );
  await fatalOn(
    s,
    cat(`DPUB ${t} 10\n`, int32(-3)),
    "E_BAD_MESSAGE DPUB invalid message body size -3",
  );
  await fatalOn(
    s,
    cat(`DPUB ${t} 10\n`, int32(101)),
    "E_BAD_MESSAGE DPUB message too big 101 > 100",
  );
});

Deno.test("DPUB: default range is 0-3600000; the bounds and an empty timeout (= 0) are accepted", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await fatalOn(s, `DPUB ${t} 3600001\n`, "E_INVALID DPUB timeout 3600001 out of range 0-3600000");
  await using p = await V2Conn.connect(s.tcpAddress);
  await p.dpub(t, 3_600_000, "late");
  await p.expectResponse("OK");
  await p.dpub(t, 0, "now");
  await p.expectResponse("OK");
  await p.send(cat(`DPUB ${t} \n`, int32(1), "e")); // empty parses as 0
  await p.expectResponse("OK");
  await using c = await connectSub(s, t, "ch", { rdy: 100 });
  const got = [
    dec.decode((await c.expectMessage()).body),
    dec.decode((await c.expectMessage()).body),
  ];
  assert.deepEqual(got.sort(), ["e", "now"]);
  const ch = s.nsqd.getTopic(t).getChannel("ch");
  assert.equal(ch.deferredCount, 1);
});

Deno.test("DPUB: a 300 ms deferred message is not delivered before 300 ms, and soon after", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using c = await connectSub(s, topic, "ch", { rdy: 100 });
  await using p = await V2Conn.connect(s.tcpAddress);
  const t0 = performance.now();
  await p.dpub(topic, 300, "deferred");
  await p.expectResponse("OK");
  await assert.rejects(c.readFrame(200), /no frame within/);
  const m = await c.expectMessage({ timeoutMs: 2000 });
  const at = performance.now() - t0;
  assert.equal(dec.decode(m.body), "deferred");
  // the timestamp is the publish time, not the delivery time
  const publishedNs = BigInt(Math.round((performance.timeOrigin + t0) * 1e6));
  assert.ok(m.timestamp - publishedNs < 150_000_000n, `timestamp ${m.timestamp} vs ${publishedNs}`);
  assert.equal(m.attempts, 1);
  assert.ok(at >= 295, `delivered after ${at}ms`);
  assert.ok(at < 800, `delivered after ${at}ms`);
});

Deno.test("DPUB: deferred bodies (packed in shared slabs) reach two channels intact", async () => {
  await using s = await startNsqd();
  const topic = uniqueName();
  await using a = await connectSub(s, topic, "a", { rdy: 200 });
  await using b = await connectSub(s, topic, "b", { rdy: 200 });
  await using p = await V2Conn.connect(s.tcpAddress);
  const sent = new Set<string>();
  for (let i = 0; i < 120; i++) {
    // Sizes around and above the packing limit, two delay classes.
    const text = `m${i}-`.padEnd(i % 3 === 0 ? 1500 : 10 + i * 3, String.fromCharCode(97 + i % 26));
    sent.add(text);
    await p.dpub(topic, i % 2 === 0 ? 50 : 200, text);
    await p.expectResponse("OK");
  }
  for (const c of [a, b]) {
    const got = new Set<string>();
    while (got.size < sent.size) {
      const m = await c.expectMessage({ timeoutMs: 5000 });
      got.add(dec.decode(m.body));
      await c.fin(m.id);
    }
    assert.deepEqual(got, sent);
  }
});

// ---- names -------------------------------------------------------------------------------------

Deno.test("names: 64 characters (including #ephemeral) are valid, 65 are not", async () => {
  await using s = await startNsqd();
  const t64 = "t".repeat(64);
  const e64 = "e".repeat(54) + "#ephemeral";
  await using p = await V2Conn.connect(s.tcpAddress);
  await p.pub(t64, "x");
  await p.expectResponse("OK");
  await p.pub(e64, "x");
  await p.expectResponse("OK");
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.sub(t64, "c".repeat(54) + "#ephemeral");
  await c.expectResponse("OK");
  const t65 = "t".repeat(65);
  await fatalOn(
    s,
    encodeCommand("PUB", [t65], "x"),
    `E_BAD_TOPIC PUB topic name "${t65}" is not valid`,
  );
  const e65 = "e".repeat(55) + "#ephemeral";
  await fatalOn(
    s,
    encodeCommand("PUB", [e65], "x"),
    `E_BAD_TOPIC PUB topic name "${e65}" is not valid`,
  );
  await fatalOn(
    s,
    encodeCommand("SUB", [t64, "c".repeat(65)]),
    `E_BAD_CHANNEL SUB channel name "${"c".repeat(65)}" is not valid`,
  );
  for (const bad of ["a#ephemeral#ephemeral", "#ephemeral", "a#b", "a/b", "a:b", "a*"]) {
    await fatalOn(s, `SUB ${bad} ch\n`, `E_BAD_TOPIC SUB topic name "${bad}" is not valid`);
  }
  // every allowed character
  await p.pub("aZ09._-", "x");
  await p.expectResponse("OK");
});

Deno.test("names: Go %q quoting of invalid names in SUB errors", async () => {
  await using s = await startNsqd();
  await fatalOn(s, 'SUB a"b ch\n', 'E_BAD_TOPIC SUB topic name "a\\"b" is not valid');
  await fatalOn(s, "SUB a\\b ch\n", 'E_BAD_TOPIC SUB topic name "a\\\\b" is not valid');
  await fatalOn(s, "SUB a\tb ch\n", 'E_BAD_TOPIC SUB topic name "a\\tb" is not valid');
  await fatalOn(s, "SUB a\rb ch\n", 'E_BAD_TOPIC SUB topic name "a\\rb" is not valid');
  await fatalOn(s, "SUB a\x01b ch\n", 'E_BAD_TOPIC SUB topic name "a\\x01b" is not valid');
  await fatalOn(s, "SUB a\x7fb ch\n", 'E_BAD_TOPIC SUB topic name "a\\x7fb" is not valid');
  await fatalOn(s, "SUB t c!\n", 'E_BAD_CHANNEL SUB channel name "c!" is not valid');
  await fatalOn(s, "SUB t  c\n", 'E_BAD_CHANNEL SUB channel name "" is not valid');
});

// Go's %q: the short escapes \a \b \f \v, printable UTF-8 as is, invalid UTF-8 bytes as \xNN.
Deno.test({
  name: "names: Go %q quoting of control characters and non-ASCII bytes",
  fn: async () => {
    await using s = await startNsqd();
    await fatalOn(s, "SUB a\x07b ch\n", 'E_BAD_TOPIC SUB topic name "a\\ab" is not valid');
    await fatalOn(s, "SUB a\x08b ch\n", 'E_BAD_TOPIC SUB topic name "a\\bb" is not valid');
    await fatalOn(s, "SUB a\x0cb ch\n", 'E_BAD_TOPIC SUB topic name "a\\fb" is not valid');
    await fatalOn(s, "SUB a\x0bb ch\n", 'E_BAD_TOPIC SUB topic name "a\\vb" is not valid');
    await fatalOn(s, "SUB é ch\n", 'E_BAD_TOPIC SUB topic name "é" is not valid');
    await fatalOn(
      s,
      cat("SUB a", bytes("\xff"), "b ch\n"),
      'E_BAD_TOPIC SUB topic name "a\\xffb" is not valid',
    );
    await fatalOn(s, "PUB 日本\n", 'E_BAD_TOPIC PUB topic name "日本" is not valid');
  },
});

// ---- "failed to read" errors (the peer half-closes mid-command) ----------------------------------

// When the connection reaches EOF with a command line complete but its body incomplete, NSQ
// answers the "failed to read" error (readLen / io.ReadFull fail) before closing.
Deno.test({
  name: "EOF inside a body answers NSQ's 'failed to read' error",
  fn: async () => {
    await using s = await startNsqd();
    const t = uniqueName();
    const cases: [Uint8Array, string][] = [
      [enc.encode("IDENTIFY\n"), "E_BAD_BODY IDENTIFY failed to read body size"],
      [cat("IDENTIFY\n", int32(10), "{}"), "E_BAD_BODY IDENTIFY failed to read body"],
      [enc.encode(`PUB ${t}\n`), "E_BAD_MESSAGE PUB failed to read message body size"],
      [cat(`PUB ${t}\n`, int32(10), "abc"), "E_BAD_MESSAGE PUB failed to read message body"],
      [enc.encode(`DPUB ${t} 1\n`), "E_BAD_MESSAGE DPUB failed to read message body size"],
      [cat(`DPUB ${t} 1\n`, int32(10), "a"), "E_BAD_MESSAGE DPUB failed to read message body"],
      [enc.encode(`MPUB ${t}\n`), "E_BAD_BODY MPUB failed to read body size"],
      [cat(`MPUB ${t}\n`, int32(20)), "E_BAD_BODY MPUB failed to read message count"],
      [
        cat(`MPUB ${t}\n`, int32(20), int32(2), int32(1), "a"),
        "E_BAD_MESSAGE MPUB failed to read message(1) body size",
      ],
      [
        cat(`MPUB ${t}\n`, int32(20), int32(2), int32(5), "a"),
        "E_BAD_MESSAGE MPUB failed to read message body",
      ],
    ];
    for (const [raw, text] of cases) {
      await using c = await V2Conn.connect(s.tcpAddress);
      await c.send(raw);
      await c.conn.closeWrite();
      await expectFatal(c, text);
    }
  },
});

Deno.test("EOF in the middle of a command line closes quietly and publishes nothing", async () => {
  await using s = await startNsqd();
  const t = uniqueName();
  await using c = await V2Conn.connect(s.tcpAddress);
  await c.send(`PUB ${t}`); // no newline
  await c.conn.closeWrite();
  await c.expectClosed();
  await waitFor(() => s.nsqd.clients.size === 0);
  assert.equal(s.nsqd.getExistingTopic(t), undefined);
});

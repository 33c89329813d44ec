import assert from "node:assert/strict";
import { identifiedClient, nsqdIdentity, startLookupd, V1Client } from "./_helpers.ts";
import { waitFor } from "../_util/wait.ts";

Deno.test("V1: a wrong magic gets E_BAD_PROTOCOL and the connection closed", async () => {
  const { lookupd, lines } = await startLookupd();
  await using _ = lookupd;
  await using c = await V1Client.connect(lookupd.tcpAddress, "  V2");
  assert.equal(await c.readResponse(), "E_BAD_PROTOCOL");
  await c.expectClosed();
  await waitFor(() => lines.some((l) => l.includes("bad protocol magic '  V2'")));
  assert.ok(lines.some((l) => /INFO: TCP: new client\(127\.0\.0\.1:\d+\)$/.test(l)));
  assert.ok(lines.some((l) => l.includes("desired protocol magic '  V2'")));
});

Deno.test("V1: PING works before IDENTIFY; CRLF and spaces are trimmed", async () => {
  const { lookupd } = await startLookupd();
  await using _ = lookupd;
  await using c = await V1Client.connect(lookupd.tcpAddress);
  assert.equal(await c.command("PING"), "OK");
  assert.equal(await c.command("  PING \r"), "OK");
});

Deno.test("V1: IDENTIFY answers the lookupd's info with keys in alphabetical order", async () => {
  const { lookupd, lines } = await startLookupd();
  await using _ = lookupd;
  const { client, response } = await identifiedClient(lookupd);
  await using _c = client;
  const local = client.conn.localAddr as Deno.NetAddr;
  const expected = `{"broadcast_address":"lookupd.test","hostname":${
    JSON.stringify(Deno.hostname())
  },"http_port":${lookupd.httpPort},"tcp_port":${lookupd.tcpPort},"version":"1.3.0"}`;
  assert.equal(response, expected);
  const id = `127.0.0.1:${local.port}`;
  assert.ok(
    lines.some((l) =>
      l.endsWith(`INFO: CLIENT(${id}): IDENTIFY Address:nsqd.test TCP:4150 HTTP:4151 Version:1.3.0`)
    ),
    lines.join("\n"),
  );
  assert.ok(
    lines.some((l) => l.endsWith(`INFO: DB: client(${id}) REGISTER category:client key: subkey:`)),
  );
  const clients = lookupd.db.findProducers("client", "", "");
  assert.equal(clients.length, 1);
  assert.equal(clients[0].peerInfo.id, id);
  assert.equal(clients[0].peerInfo.remoteAddress, id);
  assert.equal(clients[0].peerInfo.hostname, "nsqd-host");
});

Deno.test("V1: IDENTIFY overrides a client-supplied remote_address and ignores unknown keys", async () => {
  const { lookupd } = await startLookupd();
  await using _ = lookupd;
  const { client } = await identifiedClient(lookupd, { remote_address: "1.2.3.4:5", extra: [1] });
  await using _c = client;
  const [p] = lookupd.db.findProducers("client", "", "");
  assert.match(p.peerInfo.remoteAddress, /^127\.0\.0\.1:\d+$/);
});

async function expectFatal(
  setup: (c: V1Client) => Promise<void>,
  text: string,
): Promise<void> {
  const { lookupd, lines } = await startLookupd();
  await using _ = lookupd;
  await using c = await V1Client.connect(lookupd.tcpAddress);
  await setup(c);
  assert.equal(await c.readResponse(), text);
  await c.expectClosed();
  await waitFor(() => lines.some((l) => l.includes(`ERROR: [127.0.0.1:`) && l.includes(text)), {
    message: `error log for ${text}`,
  });
}

Deno.test("V1: IDENTIFY twice is E_INVALID", async () => {
  await expectFatal(async (c) => {
    await c.identify(nsqdIdentity());
    assert.match(await c.readResponse(), /^\{/);
    await c.identify(nsqdIdentity());
  }, "E_INVALID cannot IDENTIFY again");
});

Deno.test("V1: IDENTIFY requires broadcast_address, tcp_port, http_port and version", async () => {
  for (const missing of ["broadcast_address", "tcp_port", "http_port", "version"]) {
    await expectFatal(async (c) => {
      const body = nsqdIdentity();
      delete body[missing];
      await c.identify(body);
    }, "E_BAD_BODY IDENTIFY missing fields");
  }
  await expectFatal((c) => c.identify("null"), "E_BAD_BODY IDENTIFY missing fields");
  await expectFatal(
    (c) => c.identify(nsqdIdentity({ tcp_port: 0 })),
    "E_BAD_BODY IDENTIFY missing fields",
  );
});

Deno.test("V1: IDENTIFY with a bad JSON body is E_BAD_BODY", async () => {
  for (
    const body of [
      "{",
      "[]",
      `"x"`,
      JSON.stringify(nsqdIdentity({ tcp_port: "4150" })),
      JSON.stringify(nsqdIdentity({ version: 1 })),
      JSON.stringify(nsqdIdentity({ http_port: 1.5 })),
    ]
  ) {
    await expectFatal((c) => c.identify(body), "E_BAD_BODY IDENTIFY failed to decode JSON body");
  }
});

Deno.test("V1: IDENTIFY with a truncated size or body is E_BAD_BODY", async () => {
  await expectFatal(async (c) => {
    await c.write(new Uint8Array([...new TextEncoder().encode("IDENTIFY\n"), 0, 0]));
    await c.conn.closeWrite();
  }, "E_BAD_BODY IDENTIFY failed to read body size");
  await expectFatal(async (c) => {
    await c.write(new Uint8Array([...new TextEncoder().encode("IDENTIFY\n"), 0, 0, 0, 10, 0x7b]));
    await c.conn.closeWrite();
  }, "E_BAD_BODY IDENTIFY failed to read body");
  await expectFatal(async (c) => {
    await c.write(
      new Uint8Array([...new TextEncoder().encode("IDENTIFY\n"), 0xff, 0xff, 0xff, 0xff]),
    );
  }, "E_BAD_BODY IDENTIFY failed to read body");
});

Deno.test("V1: REGISTER and UNREGISTER require IDENTIFY", async () => {
  await expectFatal((c) => c.send("REGISTER t c"), "E_INVALID client must IDENTIFY");
  await expectFatal((c) => c.send("UNREGISTER t"), "E_INVALID client must IDENTIFY");
});

async function expectFatalIdentified(line: string, text: string): Promise<void> {
  await expectFatal(async (c) => {
    await c.identify(nsqdIdentity());
    await c.readResponse();
    await c.send(line);
  }, text);
}

Deno.test("V1: REGISTER / UNREGISTER parameter errors", async () => {
  for (const cmd of ["REGISTER", "UNREGISTER"]) {
    await expectFatalIdentified(cmd, `E_INVALID ${cmd} insufficient number of params`);
    await expectFatalIdentified(`${cmd}   `, `E_INVALID ${cmd} insufficient number of params`);
    await expectFatalIdentified(
      `${cmd} bad!topic`,
      `E_BAD_TOPIC ${cmd} topic name 'bad!topic' is not valid`,
    );
    await expectFatalIdentified(`${cmd}  t`, `E_BAD_TOPIC ${cmd} topic name '' is not valid`);
    await expectFatalIdentified(
      `${cmd} t bad/chan`,
      `E_BAD_CHANNEL ${cmd} channel name 'bad/chan' is not valid`,
    );
  }
});

Deno.test("V1: an unknown command is E_INVALID", async () => {
  await expectFatal((c) => c.send("FOO bar"), "E_INVALID invalid command FOO");
  await expectFatal((c) => c.send(""), "E_INVALID invalid command ");
  await expectFatal((c) => c.send("ping"), "E_INVALID invalid command ping");
});

Deno.test("V1: REGISTER adds the producer to channel and topic; extra params are ignored", async () => {
  const { lookupd, lines } = await startLookupd();
  await using _ = lookupd;
  const { client } = await identifiedClient(lookupd);
  await using _c = client;
  const id = `127.0.0.1:${(client.conn.localAddr as Deno.NetAddr).port}`;
  assert.equal(await client.command("REGISTER t1 c1"), "OK");
  assert.equal(await client.command("REGISTER t2"), "OK");
  assert.equal(await client.command("REGISTER t1 c1 extra"), "OK");
  assert.equal(lookupd.db.findProducers("channel", "t1", "c1").length, 1);
  assert.equal(lookupd.db.findProducers("topic", "t1", "").length, 1);
  assert.equal(lookupd.db.findProducers("topic", "t2", "").length, 1);
  assert.deepEqual(lookupd.db.findRegistrations("channel", "t2", "*"), []);
  assert.ok(
    lines.some((l) => l.endsWith(`DB: client(${id}) REGISTER category:channel key:t1 subkey:c1`)),
  );
  assert.ok(
    lines.some((l) => l.endsWith(`DB: client(${id}) REGISTER category:topic key:t1 subkey:`)),
  );
  // The second REGISTER of t1 c1 added nothing, so it logged nothing.
  assert.equal(
    lines.filter((l) => l.includes("REGISTER category:channel key:t1 subkey:c1")).length,
    1,
  );
});

Deno.test("V1: pipelined commands are answered in order", async () => {
  const { lookupd } = await startLookupd();
  await using _ = lookupd;
  const { client } = await identifiedClient(lookupd);
  await using _c = client;
  await client.write("PING\nREGISTER a\nREGISTER a b\nUNREGISTER a b\nPING\n");
  for (let i = 0; i < 5; i++) assert.equal(await client.readResponse(), "OK");
  assert.deepEqual(lookupd.db.findRegistrations("channel", "a", "*").map((r) => r.subkey), ["b"]);
  assert.equal(lookupd.db.findProducers("channel", "a", "b").length, 0);
});

Deno.test("V1: UNREGISTER of a channel; ephemeral channels disappear with their last producer", async () => {
  const { lookupd } = await startLookupd();
  await using _ = lookupd;
  const { client } = await identifiedClient(lookupd);
  await using _c = client;
  const { client: other } = await identifiedClient(lookupd);
  await using _o = other;
  assert.equal(await client.command("REGISTER t c"), "OK");
  assert.equal(await client.command("REGISTER t e#ephemeral"), "OK");
  assert.equal(await other.command("REGISTER t e#ephemeral"), "OK");
  assert.equal(await client.command("UNREGISTER t c"), "OK");
  assert.equal(await client.command("UNREGISTER t e#ephemeral"), "OK");
  const channels = () => lookupd.db.findRegistrations("channel", "t", "*").map((r) => r.subkey);
  // c stays with no producers; e#ephemeral still has `other`.
  assert.deepEqual(channels(), ["c", "e#ephemeral"]);
  assert.equal(lookupd.db.findProducers("channel", "t", "c").length, 0);
  assert.equal(await other.command("UNREGISTER t e#ephemeral"), "OK");
  assert.deepEqual(channels(), ["c"]);
  // Unregistering something never registered is fine.
  assert.equal(await client.command("UNREGISTER nope x"), "OK");
});

Deno.test("V1: UNREGISTER of a topic also drops the peer from its channels (with a warning)", async () => {
  const { lookupd, lines } = await startLookupd();
  await using _ = lookupd;
  const { client } = await identifiedClient(lookupd);
  await using _c = client;
  assert.equal(await client.command("REGISTER t c"), "OK");
  assert.equal(await client.command("REGISTER t#ephemeral"), "OK");
  assert.equal(await client.command("UNREGISTER t"), "OK");
  assert.equal(lookupd.db.findProducers("channel", "t", "c").length, 0);
  assert.equal(lookupd.db.findProducers("topic", "t", "").length, 0);
  assert.deepEqual(lookupd.db.findRegistrations("topic", "t", "").length, 1);
  assert.ok(
    lines.some((l) =>
      /WARN: client\(127\.0\.0\.1:\d+\) unexpected UNREGISTER category:channel key:t subkey:c$/
        .test(l)
    ),
  );
  assert.ok(
    lines.some((l) =>
      /INFO: DB: client\(127\.0\.0\.1:\d+\) UNREGISTER category:topic key:t subkey:$/.test(l)
    ),
  );
  assert.equal(await client.command("UNREGISTER t#ephemeral"), "OK");
  assert.deepEqual(lookupd.db.findRegistrations("topic", "t#ephemeral", ""), []);
});

Deno.test("V1: a closed connection removes its peer from every registration; keys stay", async () => {
  const { lookupd, lines } = await startLookupd();
  await using _ = lookupd;
  const { client } = await identifiedClient(lookupd);
  const id = `127.0.0.1:${(client.conn.localAddr as Deno.NetAddr).port}`;
  assert.equal(await client.command("REGISTER t c"), "OK");
  assert.equal(await client.command("REGISTER u"), "OK");
  assert.equal(lookupd.db.lookupRegistrations(id).length, 4);
  client.close();
  await waitFor(() => lookupd.db.lookupRegistrations(id).length === 0, { message: "peer removed" });
  assert.equal(lookupd.db.findProducers("client", "", "").length, 0);
  assert.deepEqual(lookupd.db.findRegistrations("topic", "*", "").map((r) => r.key), ["t", "u"]);
  assert.deepEqual(lookupd.db.findRegistrations("channel", "t", "*").map((r) => r.subkey), ["c"]);
  await waitFor(() => lines.some((l) => l.endsWith(`INFO: CLIENT(${id}): closing`)));
  assert.ok(
    lines.some((l) => l.endsWith(`DB: client(${id}) UNREGISTER category:channel key:t subkey:c`)),
  );
  assert.ok(
    lines.some((l) => l.endsWith(`DB: client(${id}) UNREGISTER category:client key: subkey:`)),
  );
  assert.ok(lines.some((l) => l.endsWith(`ERROR: client(${id}) - EOF`)));
});

Deno.test("V1: PING after IDENTIFY refreshes last_update (debug log)", async () => {
  const { lookupd, lines } = await startLookupd();
  await using _ = lookupd;
  const { client } = await identifiedClient(lookupd);
  await using _c = client;
  const [p] = lookupd.db.findProducers("client", "", "");
  const before = p.peerInfo.lastUpdate;
  await waitFor(() => {
    // Wait until the clock has visibly moved on, so the refresh is observable.
    return Date.now() * 1e6 > Number(before) + 2e6;
  });
  assert.equal(await client.command("PING"), "OK");
  assert.ok(p.peerInfo.lastUpdate > before);
  assert.ok(
    lines.some((l) =>
      /DEBUG: CLIENT\(127\.0\.0\.1:\d+\): pinged \(last ping [\d.]+(µs|ms|s)\)$/.test(l)
    ),
    lines.join("\n"),
  );
});

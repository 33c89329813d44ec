/**
 * The runtime's floor for one message per round trip: a bare Deno TCP server that answers `OK` to
 * every IDENTIFY, PUB, MPUB and DPUB it reads and does nothing else (no topics, no queues). It uses
 * the I/O pattern nsqd uses (one `conn.read` into a reused buffer, commands parsed in place, one
 * `conn.write` per batch of responses), so scripts/bench_roundtrip.ts can put nsqd's cost per
 * round trip beside what any Deno server pays for the same read and write.
 *
 * Usage: deno run -A scripts/_bare_ok_server.ts <port>   (prints "listening <port>")
 *
 * @module
 */

const OK_FRAME = new Uint8Array([0, 0, 0, 6, 0, 0, 0, 0, 79, 75]); // size 6, type 0, "OK"
const I = 73, P = 80, M = 77, D = 68, NL = 10;

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buf = new Uint8Array(64 * 1024);
  const dv = new DataView(buf.buffer);
  const out = new Uint8Array(64 * 1024);
  let end = 0;
  let magic = false;
  try {
    for (;;) {
      const n = await conn.read(buf.subarray(end));
      if (n === null) return;
      end += n;
      let s = 0;
      if (!magic) {
        if (end < 4) continue;
        magic = true;
        s = 4;
      }
      let oks = 0;
      for (;;) {
        const nl = buf.subarray(s, end).indexOf(NL);
        if (nl < 0) break;
        let next = s + nl + 1;
        const c = buf[s];
        if (c === I || c === P || c === M || c === D) {
          if (next + 4 > end) break;
          next += 4 + dv.getInt32(next);
          if (next > end) break;
        }
        s = next;
        oks++;
      }
      if (oks > 0) {
        for (let k = 0; k < oks; k++) out.set(OK_FRAME, k * OK_FRAME.length);
        let off = 0;
        const len = oks * OK_FRAME.length;
        while (off < len) off += await conn.write(out.subarray(off, len));
      }
      buf.copyWithin(0, s, end);
      end -= s;
    }
  } catch {
    // the client went away
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

if (import.meta.main) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(Deno.args[0] ?? 0) });
  console.log(`listening ${(listener.addr as Deno.NetAddr).port}`);
  for await (const conn of listener) serve(conn);
}

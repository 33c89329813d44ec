/**
 * Message encoding and decoding (lib/protocol/message.ts), per 1000 messages of 200 B:
 * `writeTo` (how a message frame is serialized into a client's output buffer), `encode` (a disk
 * queue record), `decode` (reading one back), `create` (timestamp + object), and the body copy
 * that PUB makes of each message (`Uint8Array.slice`, one ArrayBuffer per message).
 *
 *   deno bench -A scripts/micro/message_bench.ts
 *
 * @module
 */
import { Message } from "../../lib/nsqd/message.ts";
import { latin1 } from "../../lib/protocol/message.ts";

const N = 1000;
const BODY = new Uint8Array(200).fill(0x61);
const ID = "0a1b2c3d4e5f6789";
const msg = Message.create(ID, BODY);
const out = new Uint8Array(N * msg.size);
const outDv = new DataView(out.buffer);
const record = msg.encode();
const readBuf = new Uint8Array(64 * 1024);
readBuf.set(BODY);

Deno.bench({
  name: "writeTo ×1000 (200 B body)",
  group: "encode",
  baseline: true,
  fn() {
    let off = 0;
    for (let i = 0; i < N; i++) off = msg.writeTo(out, outDv, off);
  },
});

Deno.bench({
  name: "encode ×1000 (new record each)",
  group: "encode",
  fn() {
    for (let i = 0; i < N; i++) msg.encode();
  },
});

let sink = 0;
Deno.bench({
  name: "decode ×1000",
  group: "decode",
  fn() {
    for (let i = 0; i < N; i++) sink += Message.decode(record).attempts;
  },
});

Deno.bench({
  name: "latin1 16-byte id ×1000",
  group: "decode",
  fn() {
    for (let i = 0; i < N; i++) sink += latin1(record, 10, 26).length;
  },
});

Deno.bench({
  name: "Message.create ×1000",
  group: "create",
  fn() {
    for (let i = 0; i < N; i++) sink += Message.create(ID, BODY).tsLo & 1;
  },
});

Deno.bench({
  name: "body copy slice(200 B) ×1000 (PUB)",
  group: "create",
  fn() {
    for (let i = 0; i < N; i++) sink += readBuf.slice(i & 63, (i & 63) + 200).length;
  },
});

Deno.bench({
  name: "body view subarray(200 B) ×1000 (MPUB)",
  group: "create",
  fn() {
    for (let i = 0; i < N; i++) sink += readBuf.subarray(i & 63, (i & 63) + 200).length;
  },
});

globalThis.addEventListener("unload", () => {
  if (sink === -1) console.log(sink);
});

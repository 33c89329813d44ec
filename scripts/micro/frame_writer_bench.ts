/**
 * The buffered writer of a client connection (FrameWriter over a Transport whose writes
 * complete at once): 1000 message frames of 200 B per iteration, flushed when the 16 KiB
 * output buffer fills (the go-nsq default output_buffer_size), as ClientV2.deliver does; and
 * 1000 `OK` responses with one flush, as a batch of PUBs produces.
 *
 *   deno bench -A scripts/micro/frame_writer_bench.ts
 *
 * @module
 */
import { encodeFrame, FRAME_TYPE_RESPONSE, FrameWriter } from "../../lib/protocol/frame_writer.ts";
import type { Transport } from "../../lib/protocol/transport.ts";
import { Message } from "../../lib/nsqd/message.ts";

const N = 1000;
let written = 0;
const transport: Transport = {
  read: () => Promise.resolve(null),
  write: (p) => {
    written += p.length;
    return Promise.resolve(p.length);
  },
  close: () => {},
};
const msg = Message.create("0a1b2c3d4e5f6789", new Uint8Array(200));
const OK = encodeFrame(FRAME_TYPE_RESPONSE, "OK");
const writer = new FrameWriter(transport, 16 * 1024);

Deno.bench({
  name: "1000 message frames (200 B), flush per 16 KiB",
  baseline: true,
  async fn() {
    for (let i = 0; i < N; i++) {
      writer.writeMessage(msg);
      if (writer.buffered >= 16 * 1024) writer.flush();
    }
    await writer.idle();
  },
});

Deno.bench({
  name: "1000 message frames (200 B), one flush",
  async fn() {
    for (let i = 0; i < N; i++) writer.writeMessage(msg);
    await writer.idle();
  },
});

Deno.bench({
  name: "1000 OK responses, one flush",
  async fn() {
    for (let i = 0; i < N; i++) writer.writeRaw(OK);
    await writer.idle();
  },
});

globalThis.addEventListener("unload", () => {
  if (written === -1) console.log(written);
});

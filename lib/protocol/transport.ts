/**
 * The byte stream a client connection reads from and writes to.
 *
 * A plain `Deno.Conn` satisfies it. TLS (in-band upgrade after IDENTIFY) and the snappy / deflate
 * compressors are further implementations that wrap another Transport, so the connection's read
 * loop and buffered writer stay the same whatever is negotiated.
 */
export interface Transport {
  /** Reads into `p`; resolves with the byte count, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes from `p`; may write fewer bytes than given (callers loop on short writes). */
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/** Writes all of `p`, looping on short writes. */
export async function writeAll(t: Transport, p: Uint8Array): Promise<void> {
  let off = 0;
  while (off < p.length) off += await t.write(off === 0 ? p : p.subarray(off));
}

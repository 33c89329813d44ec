/**
 * memberlist's optional encryption (hashicorp/memberlist security.go, keyring.go): AES-GCM with a
 * 16, 24 or 32-byte key. A sealed message is `[version][12-byte nonce][ciphertext + 16-byte tag]`;
 * version 0 pads the plaintext PKCS#7 to the AES block size, version 1 (what protocol version 2
 * and later send) does not. UDP packets are sealed whole with no additional data; a TCP stream
 * is `[encryptMsg][uint32 length]` followed by the sealed bytes, with those 5 header bytes as the
 * additional data. The keyring holds several keys: the primary one seals, every one may open.
 */
export const ENCRYPT_OVERHEAD = 29;

/** The keys a member accepts; the first is the primary (sealing) key. */
export class Keyring {
  #keys: { raw: Uint8Array; key: CryptoKey }[] = [];

  /** Builds a keyring from raw keys (16, 24 or 32 bytes each); the first becomes primary. */
  static async create(keys: Uint8Array[]): Promise<Keyring> {
    const k = new Keyring();
    for (const raw of keys) await k.add(raw);
    return k;
  }

  /** Installs a key (at the end, or as primary when `primary`). */
  async add(raw: Uint8Array, primary = false): Promise<void> {
    if (![16, 24, 32].includes(raw.length)) {
      throw new RangeError(`gossip key must be 16, 24 or 32 bytes, got ${raw.length}`);
    }
    const key = await crypto.subtle.importKey(
      "raw",
      raw as Uint8Array<ArrayBuffer>,
      "AES-GCM",
      false,
      ["encrypt", "decrypt"],
    );
    const entry = { raw: raw.slice(), key };
    this.#keys = this.#keys.filter((e) => !equal(e.raw, raw));
    if (primary) this.#keys.unshift(entry);
    else this.#keys.push(entry);
  }

  get size(): number {
    return this.#keys.length;
  }

  /** Seals `msg` with the primary key (encryption version 1). */
  async seal(msg: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const ct = new Uint8Array(
      await crypto.subtle.encrypt(
        {
          name: "AES-GCM",
          iv: nonce,
          ...(aad ? { additionalData: aad as Uint8Array<ArrayBuffer> } : {}),
        },
        this.#keys[0].key,
        msg as Uint8Array<ArrayBuffer>,
      ),
    );
    const out = new Uint8Array(13 + ct.length);
    out[0] = 1;
    out.set(nonce, 1);
    out.set(ct, 13);
    return out;
  }

  /** Opens a sealed message with whichever key fits; throws when none does. */
  async open(sealed: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
    if (sealed.length < 1 + 12 + 16) throw new RangeError("payload is too small to decrypt");
    const vsn = sealed[0];
    if (vsn > 1) throw new RangeError(`unsupported encryption version ${vsn}`);
    const nonce = sealed.subarray(1, 13);
    const ct = sealed.subarray(13);
    for (const { key } of this.#keys) {
      try {
        const plain = new Uint8Array(
          await crypto.subtle.decrypt(
            {
              name: "AES-GCM",
              iv: nonce as Uint8Array<ArrayBuffer>,
              ...(aad ? { additionalData: aad as Uint8Array<ArrayBuffer> } : {}),
            },
            key,
            ct as Uint8Array<ArrayBuffer>,
          ),
        );
        if (vsn === 0 && plain.length > 0) return plain.subarray(0, plain.length - plain.at(-1)!);
        return plain;
      } catch { /* try the next key */ }
    }
    throw new RangeError("no installed keys could decrypt the message");
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

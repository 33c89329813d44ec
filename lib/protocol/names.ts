/**
 * Topic and channel name rules, shared by nsqd and nsqlookupd (nsq's internal/protocol/names.go):
 * `^[.a-zA-Z0-9_-]+(#ephemeral)?$`, 1..64 characters including the `#ephemeral` suffix.
 */
const NAME_RE = /^[.a-zA-Z0-9_-]+(#ephemeral)?$/;

export const EPHEMERAL_SUFFIX = "#ephemeral";

export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= 64 && NAME_RE.test(name);
}

export const isValidTopicName: (name: string) => boolean = isValidName;
export const isValidChannelName: (name: string) => boolean = isValidName;

export function isEphemeral(name: string): boolean {
  return name.endsWith(EPHEMERAL_SUFFIX);
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const SHORT_ESCAPES: Record<number, string> = {
  0x07: "\\a",
  0x08: "\\b",
  0x0c: "\\f",
  0x0a: "\\n",
  0x0d: "\\r",
  0x09: "\\t",
  0x0b: "\\v",
};

/**
 * Go's `%q` (strconv.Quote) of a byte string, as NSQ's error texts use it
 * (`topic name "x" is not valid`). The input holds one byte per char (how the protocol decodes
 * wire bytes), and so does the output: valid printable UTF-8 stays as its bytes, invalid bytes
 * become `\xNN`, control characters Go's short escapes or `\xNN`, other non-printable runes
 * `\uNNNN` / `\UNNNNNNNN`.
 */
export function goQuote(bytes: string): string {
  let out = '"';
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes.charCodeAt(i);
    let rune = -1;
    let width = 1;
    if (b0 < 0x80) {
      rune = b0;
    } else {
      const need = b0 >= 0xf0 && b0 < 0xf5 ? 4 : b0 >= 0xe0 ? 3 : b0 >= 0xc2 && b0 < 0xe0 ? 2 : 0;
      if (need > 0 && i + need <= bytes.length) {
        let r = b0 & (need === 2 ? 0x1f : need === 3 ? 0x0f : 0x07);
        let ok = true;
        for (let k = 1; k < need; k++) {
          const c = bytes.charCodeAt(i + k);
          if ((c & 0xc0) !== 0x80) {
            ok = false;
            break;
          }
          r = (r << 6) | (c & 0x3f);
        }
        const min = need === 2 ? 0x80 : need === 3 ? 0x800 : 0x10000;
        if (ok && r >= min && r <= 0x10ffff && !(r >= 0xd800 && r <= 0xdfff)) {
          rune = r;
          width = need;
        }
      }
    }
    if (rune < 0) {
      out += "\\x" + b0.toString(16).padStart(2, "0");
    } else if (rune === 0x22 || rune === 0x5c) {
      out += "\\" + String.fromCharCode(rune);
    } else if (rune === 0x20 || (rune > 0x20 && rune < 0x7f)) {
      out += String.fromCharCode(rune);
    } else if (rune >= 0x80 && PRINTABLE.test(String.fromCodePoint(rune))) {
      out += bytes.slice(i, i + width);
    } else if (SHORT_ESCAPES[rune] !== undefined) {
      out += SHORT_ESCAPES[rune];
    } else if (rune < 0x20 || rune === 0x7f) {
      out += "\\x" + rune.toString(16).padStart(2, "0");
    } else if (rune < 0x10000) {
      out += "\\u" + rune.toString(16).padStart(4, "0");
    } else {
      out += "\\U" + rune.toString(16).padStart(8, "0");
    }
    i += width;
  }
  return out + '"';
}

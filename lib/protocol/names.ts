/**
 * Topic and channel name rules, shared by nsqd and nsqlookupd (spec §1.11):
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

/** Go's `%q` rendering of a string, as used in NSQ's error texts (`topic name "x" is not valid`). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
    else if (ch === "\ufffd") out += "\\ufffd";
    else out += ch;
  }
  return out + '"';
}

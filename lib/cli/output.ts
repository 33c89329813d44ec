/** Where a command prints usage, version and errors (the process streams, or a test buffer). */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

const encoder = new TextEncoder();

function writeAllSync(w: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  while (off < bytes.length) off += w.writeSync(bytes.subarray(off));
}

/** The process's stdout and stderr. */
export const processOutput: Output = {
  out: (text) => writeAllSync(Deno.stdout, text),
  err: (text) => writeAllSync(Deno.stderr, text),
};

/** An Output that collects text (tests). */
export class BufferOutput implements Output {
  stdout = "";
  stderr = "";
  out(text: string): void {
    this.stdout += text;
  }
  err(text: string): void {
    this.stderr += text;
  }
}

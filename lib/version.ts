/** NSQ protocol/feature version we are compatible with (what Go's `internal/version` reports). */
export const NSQ_VERSION = "1.3.0";

/** This implementation's own version. */
export const NSQ_DENO_VERSION = "0.1.0";

/**
 * The `--version` line of a daemon, e.g.
 * `nsqd v1.3.0-compatible (nsq-deno 0.1.0, deno 2.9.6)`.
 */
export function versionLine(app: string): string {
  return `${app} v${NSQ_VERSION}-compatible (nsq-deno ${NSQ_DENO_VERSION}, deno ${Deno.version.deno})`;
}

/**
 * The tools' bridge to lib/client: `--consumer-opt` / `--producer-opt` strings (go-nsq's
 * `key,value` ConfigFlag) applied to a config, checked while flags are parsed, and the user agent
 * each tool identifies with.
 *
 * @module
 */
import { applyOpt, type ClientConfig } from "../client/mod.ts";
import { NSQ_DENO_VERSION, NSQ_VERSION } from "../version.ts";

/** `<tool>/<nsq version> nsq-deno/<version>`, like Go's `nsq_tail/1.3.0 go-nsq/1.1.0`. */
export function toolUserAgent(tool: string): string {
  return `${tool}/${NSQ_VERSION} nsq-deno/${NSQ_DENO_VERSION}`;
}

/**
 * A client config from `--consumer-opt`/`--producer-opt` strings, then `overrides` (Go sets
 * MaxInFlight and UserAgent after applying the opts, so the tool's own flags win).
 */
export function clientConfig(
  opts: readonly string[],
  overrides: Partial<ClientConfig>,
): Partial<ClientConfig> {
  const cfg = {} as ClientConfig;
  for (const opt of opts) applyOpt(cfg, opt);
  return { ...cfg, ...overrides };
}

/** A flag check for `--consumer-opt` / `--producer-opt` (Go rejects a bad one while parsing). */
export function checkClientOpt(text: string): void {
  applyOpt({} as ClientConfig, text);
}

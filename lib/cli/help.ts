/**
 * `nsq <cmd> -h`: every flag in the layout of Go's `flag.PrintDefaults`
 * (`  -name type` then a tab-indented description with ` (default ...)`), grouped under the
 * headings of the daemon's options.go (in table order rather than Go's alphabetical order).
 */
import { helpDefault, helpTypeName } from "./option_values.ts";
import type { CommandSpec } from "./resolve.ts";

/** One flag's entry, as Go prints it. */
export function renderFlagHelp(
  name: string,
  typeName: string,
  help: string,
  defaultSuffix: string,
): string {
  let head = `  -${name}`;
  if (typeName !== "") head += ` ${typeName}`;
  // Go keeps one-letter boolean flags on one line; every other flag wraps.
  head += head.length <= 4 ? "\t" : "\n    \t";
  return head + help.replaceAll("\n", "\n    \t") + defaultSuffix;
}

/** The full usage text of a daemon command. */
export function renderUsage<O>(cmd: CommandSpec<O>): string {
  const defaults = cmd.defaults() as Record<string, unknown>;
  const groups = new Map<string, string[]>();
  const add = (group: string, entry: string) => {
    const list = groups.get(group);
    if (list === undefined) groups.set(group, [entry]);
    else list.push(entry);
  };
  const firstGroup = cmd.table[0]?.group ?? "options";
  for (const m of cmd.metaFlags) {
    add(firstGroup, renderFlagHelp(m.flag, m.kind === "bool" ? "" : "string", m.help, ""));
  }
  for (const spec of cmd.table) {
    add(
      spec.group,
      renderFlagHelp(
        spec.flag,
        helpTypeName(spec.kind),
        spec.help,
        helpDefault(spec.kind, defaults[spec.field]),
      ),
    );
  }
  let out = `Usage: nsq ${cmd.name} [flags]\n\n` +
    `Flags take one or two dashes; -name=value or -name value; booleans as -name or -name=false.\n`;
  if (cmd.metaFlags.some((m) => m.flag === "config")) {
    out +=
      `Priority: command-line flag > --config TOML file (keys like mem_queue_size) > default.\n`;
  }
  for (const [group, entries] of groups) {
    out += `\n${group}:\n${entries.join("\n")}\n`;
  }
  return out;
}

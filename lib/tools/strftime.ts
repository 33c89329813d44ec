/**
 * strftime for nsq_to_file's `--datetime-format`: the conversions nsq's apps/nsq_to_file/
 * strftime.go supports (%Y %y %m %B %b %d %A %a %H %I %M %S %p %Z %z %%), in local time. Any
 * other `%x` stays as written.
 *
 * @module
 */

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

function zoneName(t: Date): string {
  const offset = -t.getTimezoneOffset();
  if (offset === 0) return "UTC";
  const part = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" })
    .formatToParts(t)
    .find((p) => p.type === "timeZoneName");
  return part?.value ?? numericZone(t);
}

function numericZone(t: Date): string {
  const offset = -t.getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  return `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
}

function convert(c: string, t: Date): string | undefined {
  switch (c) {
    case "B":
      return MONTHS[t.getMonth()];
    case "b":
      return MONTHS[t.getMonth()].slice(0, 3);
    case "m":
      return pad2(t.getMonth() + 1);
    case "A":
      return DAYS[t.getDay()];
    case "a":
      return DAYS[t.getDay()].slice(0, 3);
    case "d":
      return pad2(t.getDate());
    case "H":
      return pad2(t.getHours());
    case "I":
      return pad2(t.getHours() % 12 === 0 ? 12 : t.getHours() % 12);
    case "M":
      return pad2(t.getMinutes());
    case "S":
      return pad2(t.getSeconds());
    case "Y":
      return String(t.getFullYear()).padStart(4, "0");
    case "y":
      return pad2(t.getFullYear() % 100);
    case "p":
      return t.getHours() < 12 ? "AM" : "PM";
    case "Z":
      return zoneName(t);
    case "z":
      return numericZone(t);
    case "%":
      return "%";
    default:
      return undefined;
  }
}

/** Formats `t` (local time) with `format`'s strftime conversions. */
export function strftime(format: string, t: Date): string {
  let out = "";
  for (let i = 0; i < format.length; i++) {
    if (format[i] === "%" && i + 1 < format.length) {
      const v = convert(format[i + 1], t);
      if (v !== undefined) {
        out += v;
        i++;
        continue;
      }
    }
    out += format[i];
  }
  return out;
}

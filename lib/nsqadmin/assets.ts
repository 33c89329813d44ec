/**
 * The web UI's stylesheet and script, embedded so `deno compile` carries them (served at
 * `<base-path>/static/nsqadmin.css` and `.../nsqadmin.js`). Plain CSS and plain JS, no framework.
 *
 * The script does three things:
 * - actions: a `button[data-api]` asks `confirm(data-confirm)`, then sends `data-method` to
 *   `data-api` with `data-body` as JSON, shows the answer's `message`, then reloads the numbers
 *   (or goes to `data-then`);
 * - forms: a `form[data-api]` posts its fields as JSON the same way (create topic / channel);
 * - auto-refresh: every `data-refresh` ms (on `<body>`), the page is fetched again and `#content`
 *   replaced, while the tab is visible and the toggle is on (remembered in localStorage).
 */

const CSS = `
:root{--bg:#f6f7f9;--panel:#fff;--ink:#1d2330;--muted:#667085;--line:#e3e6eb;--head:#f0f2f5;
--accent:#2563eb;--accent-ink:#fff;--warn:#b45309;--warn-bg:#fff7e6;--err:#b42318;--err-bg:#fef3f2;
--ok:#067647;--ok-bg:#ecfdf3;--chart:#2563eb;--chart-fill:rgba(37,99,235,.12);--bar:#111827}
*{box-sizing:border-box}
html{font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}
body{margin:0}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
header.bar{background:var(--bar);color:#e5e7eb;display:flex;align-items:center;gap:18px;padding:0 20px;height:44px;position:sticky;top:0;z-index:5}
header.bar .brand{font-weight:700;color:#fff;font-size:15px;letter-spacing:.2px}
header.bar .brand small{font-weight:400;color:#9ca3af;margin-left:6px;font-size:11px}
header.bar nav{display:flex;gap:2px}
header.bar nav a{color:#cbd5e1;padding:6px 10px;border-radius:6px}
header.bar nav a:hover{background:#1f2937;text-decoration:none;color:#fff}
header.bar nav a.on{background:#374151;color:#fff}
header.bar .right{margin-left:auto;display:flex;align-items:center;gap:12px;color:#9ca3af;font-size:12px}
header.bar label{display:flex;align-items:center;gap:5px;cursor:pointer}
main{padding:16px 20px 40px;max-width:1500px}
.crumbs{color:var(--muted);margin-bottom:6px}.crumbs a{color:var(--muted)}.crumbs span+span:before{content:"/";margin:0 6px;color:#c0c5ce}
h1{font-size:20px;margin:0 0 12px;display:flex;align-items:center;gap:10px;flex-wrap:wrap}
h1 .kind{font-size:12px;font-weight:500;color:var(--muted);text-transform:uppercase;letter-spacing:.5px}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.6px;color:var(--muted);margin:22px 0 8px;font-weight:600}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:8px;overflow:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap;vertical-align:middle}
th{background:var(--head);font-weight:600;color:#344054;font-size:12px;position:sticky;top:0}
th.num,td.num{text-align:right}
tr:last-child td{border-bottom:0}
tbody tr:hover td{background:#f8fafc}
tr.total td{background:#f3f6fb;font-weight:600;border-top:2px solid var(--line)}
td.muted,.muted{color:var(--muted)}
td .sub{display:block;color:var(--muted);font-size:11px}
.badge{display:inline-block;padding:1px 7px;border-radius:10px;font-size:11px;font-weight:600;line-height:17px;background:#eef2f6;color:#344054;margin-right:3px;vertical-align:1px}
.badge.paused{background:#fef0c7;color:#93370d}.badge.tls{background:#e0eaff;color:#1e40af}
.badge.snappy,.badge.deflate{background:#ecfdf3;color:#067647}.badge.auth{background:#f4ebff;color:#6941c6}
.badge.ephemeral{background:#f2f4f7;color:#475467}.badge.warn{background:var(--warn-bg);color:var(--warn)}
.badge.tomb{background:var(--err-bg);color:var(--err)}
.alert{padding:9px 12px;border-radius:8px;margin:8px 0 12px;border:1px solid}
.alert.warn{background:var(--warn-bg);border-color:#fedf89;color:#7a2e0e}
.alert.err{background:var(--err-bg);border-color:#fecdca;color:var(--err)}
.alert.ok{background:var(--ok-bg);border-color:#abefc6;color:var(--ok)}
.alert pre{margin:4px 0 0;white-space:pre-wrap;font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
.actions{display:flex;gap:8px;margin:0 0 14px;flex-wrap:wrap}
button,.btn{font:inherit;font-weight:600;border:1px solid #d0d5dd;background:#fff;color:#344054;border-radius:6px;padding:5px 12px;cursor:pointer}
button:hover{background:#f9fafb}
button.danger{color:var(--err);border-color:#fda29b}button.danger:hover{background:var(--err-bg)}
button.primary{background:var(--accent);border-color:var(--accent);color:var(--accent-ink)}button.primary:hover{filter:brightness(1.08)}
button.small{padding:1px 8px;font-size:11px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px;margin-bottom:14px}
.card{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:9px 12px}
.card .k{color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.5px}
.card .v{font-size:20px;font-weight:650;font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:10px;margin-bottom:6px}
figure.chart{margin:0;background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:8px 10px 6px}
.chart-head{display:flex;justify-content:space-between;align-items:baseline;color:var(--muted);font-size:12px}
.chart-head b{color:var(--ink);font-size:16px}.chart-head small{font-weight:400;color:var(--muted);margin-left:3px;font-size:11px}
.chart-foot{display:flex;justify-content:space-between;color:var(--muted);font-size:10px}
.chart-empty{display:flex;align-items:center;justify-content:center;color:var(--muted);font-size:12px;background:repeating-linear-gradient(45deg,#fafbfc,#fafbfc 6px,#f3f4f6 6px,#f3f4f6 12px);border-radius:4px}
figure.chart svg{display:block}
svg .line{fill:none;stroke:var(--chart);stroke-width:1.5}svg .area{fill:var(--chart-fill);stroke:none}
svg .grid{stroke:#eef0f3;stroke-width:1}
svg.spark{vertical-align:middle}svg.spark.empty line{stroke:#e5e7eb;stroke-width:1;stroke-dasharray:2 3}
.two{display:grid;grid-template-columns:1fr 1fr;gap:16px}@media(max-width:900px){.two{grid-template-columns:1fr}}
form.inline{display:flex;gap:8px;align-items:end;flex-wrap:wrap;padding:12px}
form.inline label{display:flex;flex-direction:column;gap:3px;font-size:12px;color:var(--muted)}
input[type=text]{font:inherit;padding:5px 8px;border:1px solid #d0d5dd;border-radius:6px;min-width:220px}
.empty{padding:14px;color:var(--muted)}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
td.body{max-width:640px;overflow:hidden;text-overflow:ellipsis}
.big{font-size:44px;font-weight:700;font-variant-numeric:tabular-nums;letter-spacing:-1px}
#flash:empty{display:none}
.stale{opacity:.55;transition:opacity .2s}
`;

const JS = `(() => {
  const body = document.body;
  const flash = (kind, text) => {
    const f = document.getElementById("flash");
    if (!f) return;
    f.innerHTML = "";
    if (!text) return;
    const d = document.createElement("div");
    d.className = "alert " + kind;
    d.textContent = text;
    f.appendChild(d);
  };
  const send = async (method, url, payload) => {
    const init = { method, headers: { "Accept": "application/json" } };
    if (payload !== undefined) {
      init.body = JSON.stringify(payload);
      init.headers["Content-Type"] = "application/json";
    }
    const res = await fetch(url, init);
    let message = "";
    try { message = (await res.json()).message || ""; } catch (_) { /* empty answer */ }
    return { ok: res.ok, status: res.status, message };
  };
  const afterAction = async (r, then) => {
    if (!r.ok) { flash("err", r.status + " " + (r.message || "request failed")); return; }
    if (r.message) flash("warn", r.message); else flash("", "");
    if (then) { location.href = then; return; }
    await refresh(true);
  };
  document.addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-api]");
    if (!b) return;
    ev.preventDefault();
    if (b.dataset.confirm && !confirm(b.dataset.confirm)) return;
    b.disabled = true;
    try {
      const payload = b.dataset.body ? JSON.parse(b.dataset.body) : undefined;
      await afterAction(await send(b.dataset.method || "POST", b.dataset.api, payload), b.dataset.then);
    } catch (e) { flash("err", String(e)); } finally { b.disabled = false; }
  });
  document.addEventListener("submit", async (ev) => {
    const f = ev.target.closest("form[data-api]");
    if (!f) return;
    ev.preventDefault();
    const payload = {};
    for (const [k, v] of new FormData(f)) if (v !== "") payload[k] = v;
    if (f.dataset.confirm && !confirm(f.dataset.confirm.replace("{topic}", payload.topic || "").replace("{channel}", payload.channel || ""))) return;
    try {
      await afterAction(await send("POST", f.dataset.api, payload), "");
      f.reset();
    } catch (e) { flash("err", String(e)); }
  });

  const every = Number(body.dataset.refresh || 0);
  const toggle = document.getElementById("autorefresh");
  const stamp = document.getElementById("updated");
  const key = "nsqadmin.autorefresh";
  let busy = false;
  // Never swap the content under an operator who is typing into a form.
  const typing = () => {
    const c = document.getElementById("content");
    if (!c) return false;
    const a = document.activeElement;
    if (a && c.contains(a) && (a.tagName === "INPUT" || a.tagName === "TEXTAREA")) return true;
    return [...c.querySelectorAll("input[type=text]")].some((i) => i.value !== "");
  };
  async function refresh(force) {
    if (busy || (!force && typing())) return;
    busy = true;
    const content = document.getElementById("content");
    try {
      const res = await fetch(location.href, { headers: { "X-Nsqadmin-Refresh": "1" } });
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      const next = doc.getElementById("content");
      if (next && content) content.replaceWith(next);
      if (stamp) stamp.textContent = "updated " + new Date().toLocaleTimeString();
      body.dataset.refreshed = String(Number(body.dataset.refreshed || 0) + 1);
    } catch (_) {
      content && content.classList.add("stale");
    } finally { busy = false; }
  }
  window.nsqadminRefresh = refresh;
  if (toggle) {
    toggle.checked = localStorage.getItem(key) !== "off";
    toggle.addEventListener("change", () => localStorage.setItem(key, toggle.checked ? "on" : "off"));
  }
  if (every > 0) setInterval(() => {
    if (document.hidden || (toggle && !toggle.checked)) return;
    refresh();
  }, every);
})();
`;

/** An embedded asset: its content type and bytes. */
export interface Asset {
  readonly type: string;
  readonly body: string;
}

/** The assets by file name. */
export const ASSETS: Readonly<Record<string, Asset>> = {
  "nsqadmin.css": { type: "text/css; charset=utf-8", body: CSS },
  "nsqadmin.js": { type: "text/javascript; charset=utf-8", body: JS },
};

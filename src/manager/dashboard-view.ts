/**
 * The dashboard's look (pure rendering, no I/O): the page frame with its inline CSS, the rows and blocks that both
 * a page and the live view's server-sent events render (an invocation row, the request-rate block and its
 * sparkline), and the app page's progressive-enhancement script (run under the page's CSP nonce).
 */
import type { InvocationView, RateStats } from '../db/dashboard.ts';
import type { Principal } from './auth.ts';
import { ago, esc, html, ms, type Html } from './html.ts';

/** What the page frame needs of a signed-in session: the logout form's CSRF token. */
export interface FrameSession {
  csrf: string;
}

const CSS = `
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#f4f6f9}
a{color:#2456c7;text-decoration:none}a:hover{text-decoration:underline}
header{display:flex;align-items:center;gap:18px;padding:10px 24px;background:#19202e;color:#e8ecf3}
header .brand{font-weight:700;font-size:16px;color:#fff;letter-spacing:.2px}header .brand span{color:#7fb0ff}
header nav{flex:1}header nav a{color:#c9d3e6;margin-right:14px}header .who{color:#9aa6bd;font-size:13px}
header form{margin:0}header button{background:none;border:1px solid #445069;color:#c9d3e6;border-radius:5px;padding:3px 10px;cursor:pointer}
main{max-width:1180px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:22px;margin:4px 0 14px}h2{font-size:15px;margin:0 0 10px;color:#39425a}
.card{background:#fff;border:1px solid #dde2eb;border-radius:8px;padding:14px 16px;margin-bottom:16px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}@media(max-width:860px){.grid{grid-template-columns:1fr}}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #edf0f5;vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#6b7489;font-weight:600}tr:last-child td{border-bottom:0}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.muted{color:#6b7489}.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.live{background:#e1f5e8;color:#17723a}.prev{background:#eef1ff;color:#3848a8}
.s2{background:#e1f5e8;color:#17723a}.s3{background:#e6f0ff;color:#2456c7}.s4{background:#fff3dc;color:#8a5a00}.s5{background:#fde6e6;color:#b42323}
.tabs{display:flex;gap:6px;flex-wrap:wrap;margin-bottom:14px}.tabs a{padding:5px 12px;border:1px solid #d3d9e4;border-radius:16px;background:#fff;color:#39425a}
.tabs a.on{background:#19202e;color:#fff;border-color:#19202e}
button.act,input[type=submit]{background:#2456c7;color:#fff;border:0;border-radius:5px;padding:4px 11px;cursor:pointer;font-size:13px}
button.act:hover{background:#1b46a6}
input[type=text],input[type=password]{padding:7px 9px;border:1px solid #c7cfdc;border-radius:5px;font-size:14px;min-width:260px}
.flash{padding:10px 14px;border-radius:6px;margin-bottom:16px}.flash.ok{background:#e1f5e8;color:#17723a}.flash.error{background:#fde6e6;color:#b42323}
.stats{display:flex;gap:28px;align-items:flex-end}.stat b{display:block;font-size:22px}.stat span{display:block;color:#6b7489;font-size:12px}
details summary{cursor:pointer}pre{background:#f6f8fb;border:1px solid #e6eaf1;border-radius:5px;padding:8px;margin:6px 0 0;white-space:pre-wrap;word-break:break-word;max-height:260px;overflow:auto}
.err{color:#b42323}.login{max-width:420px;margin:80px auto}.new{animation:hl 2s ease-out}@keyframes hl{from{background:#fff7c2}to{background:transparent}}
`;

const statusClass = (s: number): string => `s${Math.min(Math.max(Math.floor(s / 100), 2), 5)}`;

export function page(title: string, body: Html, opts: { session?: FrameSession; principal?: Principal; nonce: string; script?: string }): string {
  const nav = opts.session
    ? html`<nav><a href="/">Apps</a></nav><span class="who">${opts.principal?.name ?? ''}</span>
        <form method="post" action="/logout"><input type="hidden" name="_csrf" value="${opts.session.csrf}"><button>Log out</button></form>`
    : html`<nav></nav>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · PiCloud</title><style>${CSS}</style></head>
<body><header><a class="brand" href="/">Pi<span>Cloud</span></a>${nav}</header>
<main>${body}</main>${opts.script ? `<script nonce="${opts.nonce}">${opts.script}</script>` : ''}</body></html>`;
}

export function sparkline(values: number[]): Html {
  const w = 180;
  const h = 36;
  const max = Math.max(1, ...values);
  const bw = w / values.length;
  const bars = values.map((v, i) => {
    const bh = Math.max(v ? 2 : 0, Math.round((v / max) * (h - 2)));
    return html`<rect x="${(i * bw + 1).toFixed(1)}" y="${h - bh}" width="${(bw - 2).toFixed(1)}" height="${bh}" rx="1"></rect>`;
  });
  return html`<svg id="spark" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" fill="#7fa6f0" aria-label="requests per minute, last ${values.length} minutes">${bars}</svg>`;
}

export function invocationRow(i: InvocationView): Html {
  const what = i.trigger === 'schedule' ? html`<span class="muted">cron</span> <code>${i.route}</code>` : html`<code>${i.method} ${i.path}</code>`;
  const hasDetail = i.logs.length > 0 || !!i.error;
  const detail = hasDetail
    ? html`<details><summary>${i.error ? html`<span class="err">error</span>` : ''}${i.error && i.logs.length ? ' · ' : ''}${i.logs.length ? `${i.logs.length} log line${i.logs.length === 1 ? '' : 's'}` : ''}</summary>
        ${i.logs.length ? html`<pre>${i.logs.map((l) => `[${l.level}] ${l.msg}\n`).join('')}</pre>` : ''}
        ${i.error ? html`<pre class="err">${i.error}</pre>` : ''}</details>`
    : html`<span class="muted">—</span>`;
  return html`<tr data-id="${i.id}"><td class="muted" title="${i.createdAt}">${ago(i.createdAt)}</td><td>${what}</td>
    <td><span class="pill ${statusClass(i.status)}">${i.status}</span></td><td class="mono">${ms(i.durationMs)}${i.cold ? html` <span class="muted">cold</span>` : ''}</td>
    <td class="muted">${i.version ? `v${i.version}` : '—'}</td><td>${detail}</td></tr>`;
}

export function rateBlock(r: RateStats): Html {
  return html`<div class="stats"><div class="stat"><b id="rate-1m">${r.lastMinute}</b><span>requests / min (current)</span></div>
    <div class="stat"><b id="rate-5m">${r.last5Minutes}</b><span>last 5 min</span></div>
    <div class="stat"><b id="err-5m">${r.errors5Minutes}</b><span>5xx, last 5 min</span></div>
    <div class="stat"><b id="avg-5m">${r.avgDurationMs5Minutes === null ? '—' : ms(r.avgDurationMs5Minutes)}</b><span>avg duration</span></div>
    <div class="stat">${sparkline(r.perMinute)}<span>per minute, last ${r.perMinute.length} min</span></div></div>`;
}

/** Progressive enhancement of the app page; reads app and branch from data attributes (never interpolated). */
export const LIVE_SCRIPT = `(() => {
  const root = document.getElementById('app-page');
  if (!root) return;
  const q = '?branch=' + encodeURIComponent(root.dataset.branch);
  const base = '/ui/apps/' + encodeURIComponent(root.dataset.app);
  const tbody = document.getElementById('invocations');
  const state = document.getElementById('live-state');
  if (window.EventSource && tbody && root.dataset.live) {
    const es = new EventSource(base + '/events' + q);
    es.addEventListener('open', () => { state.textContent = 'live'; state.className = 'pill live'; });
    es.addEventListener('error', () => { state.textContent = 'reconnecting'; state.className = 'pill s4'; });
    es.addEventListener('invocation', (e) => {
      const empty = document.getElementById('no-invocations'); if (empty) empty.remove();
      const t = document.createElement('tbody'); t.innerHTML = JSON.parse(e.data).html;
      const row = t.firstElementChild; row.classList.add('new'); tbody.prepend(row);
      while (tbody.children.length > 50) tbody.lastElementChild.remove();
      for (const id of ['rate-1m', 'rate-5m']) { const n = document.getElementById(id); n.textContent = String(Number(n.textContent) + 1); }
    });
  }
  const refresh = async () => {
    try {
      const r = await fetch(base + '/stats' + q, { credentials: 'same-origin' });
      if (!r.ok) return;
      const s = await r.json();
      document.getElementById('rate-1m').textContent = s.lastMinute;
      document.getElementById('rate-5m').textContent = s.last5Minutes;
      document.getElementById('err-5m').textContent = s.errors5Minutes;
      document.getElementById('avg-5m').textContent = s.avgDurationText;
      document.getElementById('spark').outerHTML = s.sparkline;
    } catch {}
  };
  setInterval(refresh, 15000);
})();`;

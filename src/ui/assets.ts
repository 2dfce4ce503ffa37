/**
 * The UI's stylesheet and script, as strings: they travel inside the bundle
 * and the compiled binary, so the air-gapped client needs no file beside
 * them and the browser fetches nothing from anywhere else. No web fonts: the
 * system's own sans-serif and monospace faces are used.
 */

export const CSS = `
:root { --fg: #1a1a1a; --bg: #fdfdfc; --muted: #555; --line: #b8b8b8; --accent: #0b4f8a;
  --bad: #9b1c1c; --good: #1e5e2c; --warnbg: #fff4d6; --badbg: #fde8e8; }
* { box-sizing: border-box; }
html { font-family: system-ui, "DejaVu Sans", "Liberation Sans", sans-serif; font-size: 100%;
  color: var(--fg); background: var(--bg); line-height: 1.45; }
body { margin: 0; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible,
textarea:focus-visible, summary:focus-visible { outline: 3px solid #e0a100; outline-offset: 2px; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px 8px; z-index: 10; }
header { border-bottom: 2px solid var(--fg); padding: 8px 16px; display: flex; flex-wrap: wrap;
  gap: 4px 24px; align-items: baseline; }
header .brand { font-weight: 700; font-size: 1.15rem; }
nav ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 16px; }
nav a { text-decoration: none; padding: 2px 4px; }
nav a[aria-current="page"] { font-weight: 700; text-decoration: underline; text-underline-offset: 4px; }
main { padding: 12px 16px 48px; max-width: 1200px; }
h1 { font-size: 1.5rem; margin: 8px 0 12px; }
h2 { font-size: 1.2rem; margin: 20px 0 8px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; }
th { background: #eee; }
.scroll { overflow-x: auto; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace;
  font-size: 0.9rem; overflow-wrap: anywhere; }
pre { background: #f2f2f2; border: 1px solid var(--line); padding: 8px; overflow-x: auto;
  white-space: pre-wrap; word-break: break-word; max-height: 24rem; }
form.stack { display: grid; gap: 12px; max-width: 44rem; }
.field { display: grid; gap: 2px; }
.field label { font-weight: 600; }
.field .help { color: var(--muted); font-size: 0.9rem; }
.field .error, .error-box { color: var(--bad); font-weight: 600; }
.field.invalid input, .field.invalid select, .field.invalid textarea { border: 2px solid var(--bad); }
input[type=text], input[type=password], input[type=number], select, textarea { font: inherit;
  padding: 4px 6px; border: 1px solid #767676; border-radius: 2px; width: 100%; max-width: 44rem; }
textarea { min-height: 22rem; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
fieldset { border: 1px solid var(--line); padding: 8px 12px; display: grid; gap: 8px; }
.row { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: flex-start; }
.row .field { flex: 1 1 10rem; min-width: 0; }
.field .error { overflow-wrap: anywhere; }
button { font: inherit; padding: 6px 14px; border: 2px solid var(--accent); background: var(--accent);
  color: #fff; border-radius: 3px; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
.inline { display: inline; }
.badge { display: inline-block; border: 1px solid currentColor; padding: 0 6px; border-radius: 3px;
  font-size: 0.85rem; font-weight: 600; white-space: nowrap; }
.ok { color: var(--good); }
.bad { color: var(--bad); }
.alarm { border: 4px solid var(--bad); background: var(--badbg); padding: 8px 12px; margin: 12px 0; }
.alarm strong { font-size: 1.1rem; }
.notice { border: 2px solid #8a6d00; background: var(--warnbg); padding: 8px 12px; margin: 12px 0; }
.flash { border-left: 6px solid var(--good); padding: 6px 12px; background: #eef7ef; margin: 8px 0; }
.flash.bad { border-left-color: var(--bad); background: var(--badbg); }
.muted { color: var(--muted); }
.gallery { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; border: 1px solid var(--line); padding: 8px; }
figure img { display: block; max-width: 100%; height: auto; image-rendering: pixelated;
  width: 256px; }
figcaption { font-size: 0.9rem; margin-top: 4px; }
@media (max-width: 640px) {
  main { padding: 8px; }
  th, td { padding: 3px 4px; font-size: 0.9rem; }
  header { padding: 6px 8px; }
}
`;

/**
 * Progressive enhancement only: every page works with plain forms and links.
 * The run page follows its run by server-sent events; elapsed times tick.
 */
export const JS = `
"use strict";
(function () {
  function elapsed(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var m = Math.floor(s / 60);
    return m > 0 ? m + " min " + (s % 60) + " s" : s + " s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      el.textContent = elapsed(now - Number(el.getAttribute("data-since")));
    });
  }
  setInterval(tick, 1000);
  tick();
  var live = document.getElementById("live");
  if (!live || !window.EventSource) return;
  var url = live.getAttribute("data-events");
  var prompt = document.getElementById("prompt");
  var shown = prompt ? prompt.getAttribute("data-prompt") || "" : "";
  var source = new EventSource(url);
  source.addEventListener("update", function (e) {
    var data = JSON.parse(e.data);
    live.innerHTML = data.html;
    if (prompt && (data.prompt || "") !== shown) {
      shown = data.prompt || "";
      prompt.setAttribute("data-prompt", shown);
      prompt.innerHTML = data.promptHtml;
      var input = prompt.querySelector("input[type=password]");
      if (input) input.focus();
    }
    tick();
    if (data.finished) source.close();
  });
})();
`;

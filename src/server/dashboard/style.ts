// The dashboard's one stylesheet, served from /assets/cosell.css (no CDN, no build step). Plain CSS: someone
// who knows no front-end framework can change it.
export const STYLESHEET = `
:root { --ok: #1a7f37; --bad: #c62828; --warn: #9a6700; --ink: #1f2328; --mute: #59636e; --line: #d1d9e0;
  --bg: #f6f8fa; --accent: #0b5cad; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); }
body { margin: 0; background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f0b400; outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: .5rem; background: #fff; padding: .5rem; }
header { background: #1f2328; color: #fff; display: flex; gap: 2rem; align-items: center; padding: .6rem 1.5rem; }
header strong { font-size: 1.1rem; } header nav a { color: #fff; margin-right: 1.2rem; text-decoration: none; }
header nav a[aria-current="page"] { text-decoration: underline; text-underline-offset: .35rem; }
header .tenant { margin-left: auto; color: #c9d1d9; font-size: .9rem; }
main { padding: 1.2rem 1.5rem 3rem; max-width: 1400px; }
h1 { font-size: 1.4rem; margin: .2rem 0 1rem; } h2 { font-size: 1.1rem; margin: 0 0 .6rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.1rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .4rem .55rem; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: break-word; }
th { white-space: nowrap; } .ids { overflow-wrap: anywhere; } td.when { white-space: nowrap; }
th { font-size: .85rem; color: var(--mute); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); } .mute { color: var(--mute); }
.mark { font-weight: 700; }
.fix { background: #fff8c5; border-left: 4px solid var(--warn); padding: .4rem .6rem; margin: .3rem 0; }
.error { background: #ffebe9; border-left: 4px solid var(--bad); padding: .5rem .7rem; margin: .4rem 0; }
.notice { background: #ddf4ff; border-left: 4px solid var(--accent); padding: .5rem .7rem; margin: 0 0 1rem; }
.counts { display: flex; gap: 1.5rem; flex-wrap: wrap; } .counts a { text-decoration: none; }
.counts b { display: block; font-size: 1.6rem; }
.bar { background: #e6eaef; border-radius: 4px; height: .9rem; overflow: hidden; }
.bar span { display: block; height: 100%; background: var(--accent); }
.bar span.high { background: var(--bad); }
form.filters { display: flex; gap: .6rem; flex-wrap: wrap; align-items: end; margin-bottom: .8rem; }
label { font-size: .85rem; color: var(--mute); display: flex; flex-direction: column; gap: .2rem; }
input, select, button { font: inherit; padding: .35rem .5rem; }
button { background: var(--accent); color: #fff; border: 0; border-radius: 6px; cursor: pointer; padding: .4rem .9rem; }
button.secondary { background: #fff; color: var(--accent); border: 1px solid var(--accent); }
pre { background: #fff; border: 1px solid var(--line); padding: .8rem; overflow: auto; font-size: .85rem; }
.sides td:nth-child(2), .sides td:nth-child(3) { font-family: ui-monospace, monospace; font-size: .85rem; }
tr.differs td { background: #fff8c5; }
ol.audit { font-family: ui-monospace, monospace; font-size: .85rem; padding-left: 1.4rem; }
.pager { margin-top: .8rem; display: flex; gap: 1rem; }
svg.spark { display: block; }
`;

"""The gallery page itself: one HTML file with its CSS and JS inline (see `gallery.py`).

Every text from the manifest is escaped with `html.escape`, every path is URL-quoted. The script
only filters by status (a `data-filter` attribute on <body>, the rest is CSS, so filtering thousands
of cards is one style recalculation), reloads the page every few seconds while lines are running, and,
when the URL ends in `#selftest`, reports in a `<pre id="selftest">` how many images loaded, what each
filter showed and any script or load error (what the browser test reads).
"""

from __future__ import annotations

import functools
import html
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

__all__ = ["STATUSES", "TITLE_END", "Entry", "Picture", "render_page"]

#: How every gallery's title ends: what tells a page this module wrote from any other `index.html`.
TITLE_END = " - ppio gallery</title>"

#: The manifest's statuses, in the order the filter buttons show them; anything else counts as "other".
STATUSES = ("done", "failed", "unknown", "running")
#: While any line is running, the page reloads itself this often (unless the reader unticks the box).
RELOAD_SECONDS = 5


@dataclass(frozen=True)
class Entry:
    """One line of the manifest (MANIFEST-FORMAT.md)."""

    line: int
    status: str
    prompt: str | None
    task_id: str | None
    seed: int | None
    images: tuple[str, ...]
    error: str | None
    error_field: str | None


@dataclass(frozen=True)
class Picture:
    """One image of a line: `src` is what the <img> shows (its thumbnail, or the image itself), None
    when nothing can be shown; `problem` says why, when there is one."""

    path: str
    src: str | None
    problem: str | None = None


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _url(path: str) -> str:
    return _e(quote(path, safe="/"))


def _kind(status: str) -> str:
    return status if status in STATUSES else "other"


@functools.lru_cache(maxsize=1 << 15)
def _card(entry: Entry, pictures: tuple[Picture, ...]) -> str:
    """One line's card. Cached (text only, never pixels): between two manifest rewrites of a running
    batch almost every line is unchanged, so a rewrite renders only the lines that changed."""
    kind = _kind(entry.status)
    parts = [f'<li class="card" data-status="{kind}" id="line-{entry.line}">']
    if kind == "running":
        parts.append(
            '<div class="pics"><div class="spinner" role="status" aria-label="in progress"></div></div>'
        )
    elif pictures:
        parts.append('<div class="pics">')
        for index, picture in enumerate(pictures):
            if picture.src is not None:
                alt = _e(f"line {entry.line}, image {index}")
                parts.append(
                    f'<a href="{_url(picture.path)}"><img src="{_url(picture.src)}" alt="{alt}" '
                    f'loading="lazy" decoding="async"></a>'
                )
            if picture.problem:
                parts.append(f'<p class="problem">{_e(picture.path)}: {_e(picture.problem)}</p>')
        parts.append("</div>")
    label = "in progress" if kind == "running" else entry.status
    parts.append(
        f'<div class="head"><span class="badge {kind}">{_e(label)}</span>'
        f'<a class="line" href="#line-{entry.line}">line {entry.line}</a></div>'
    )
    if entry.prompt is not None:
        parts.append(f'<p class="prompt" title="{_e(entry.prompt)}">{_e(entry.prompt)}</p>')
    else:
        parts.append('<p class="prompt none">(no prompt: see the error)</p>')
    facts = []
    if entry.seed is not None:
        facts.append(f"<dt>seed</dt><dd>{entry.seed}</dd>")
    if entry.task_id is not None:
        facts.append(f"<dt>task</dt><dd><code>{_e(entry.task_id)}</code></dd>")
    if facts:
        parts.append(f"<dl>{''.join(facts)}</dl>")
    if entry.error is not None or entry.error_field is not None:
        named = entry.error_field and not (entry.error or "").startswith(entry.error_field)
        where = f"<b>{_e(entry.error_field)}</b>: " if named else ""
        parts.append(f'<p class="error">{where}{_e(entry.error or "")}</p>')
    parts.append("</li>")
    return "".join(parts)


def render_page(
    entries: Sequence[Entry],
    pictures: Mapping[int, tuple[Picture, ...]],
    *,
    title: str,
    unreadable: int = 0,
    pending_thumbnails: int = 0,
    manifest_found: bool = True,
) -> str:
    counts = Counter(_kind(e.status) for e in entries)
    kinds = [*STATUSES, *(["other"] if counts["other"] else [])]
    buttons = [
        f'<button type="button" data-filter="all" aria-pressed="true">all <b>{len(entries)}</b></button>'
    ]
    buttons += [
        f'<button type="button" data-filter="{k}" aria-pressed="false">{k} <b>{counts[k]}</b></button>'
        for k in kinds
    ]
    notes = []
    if not manifest_found:
        notes.append("No manifest.jsonl yet: nothing to show.")
    if unreadable:
        notes.append(
            f"{unreadable} manifest line{'s' if unreadable != 1 else ''} could not be read (skipped)."
        )
    if pending_thumbnails:
        notes.append(
            f"{pending_thumbnails} thumbnail{'s' if pending_thumbnails != 1 else ''} not drawn yet "
            "(shown from the full image until the gallery is written again)."
        )
    reload = (
        f'<label class="reload"><input type="checkbox" id="reload" checked> reload every {RELOAD_SECONDS} s '
        "while lines are running</label>"
        if counts["running"]
        else ""
    )
    written = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "".join(
        [
            "<!doctype html>\n",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}{TITLE_END}",
            f"<script>{_EARLY_JS}</script>",
            f"<style>{_CSS}</style></head>\n",
            f'<body data-filter="all" data-running="{counts["running"]}" data-reload="{RELOAD_SECONDS}">',
            f"<header><h1>{_e(title)}</h1>",
            f'<p class="sub">{len(entries)} line{"s" if len(entries) != 1 else ""}, written {written}</p>',
            f'<nav class="filters" aria-label="filter by status">{"".join(buttons)}{reload}</nav>',
            *(f'<p class="note">{_e(n)}</p>' for n in notes),
            "</header>\n",
            '<ul class="cards">\n',
            "\n".join(_card(e, pictures.get(e.line, ())) for e in entries),
            "\n</ul>\n",
            '<pre id="selftest" hidden></pre>',
            f"<script>{_JS}</script>",
            "</body></html>\n",
        ]
    )


_CSS = """
:root{color-scheme:light dark;--bg:#f6f6f4;--card:#fff;--fg:#1d1d1f;--muted:#6b6b70;--line:#dcdcdc;
--done:#2e7d32;--failed:#c62828;--unknown:#9a6a00;--running:#1565c0;--other:#555}
@media (prefers-color-scheme:dark){:root{--bg:#18181a;--card:#242427;--fg:#ececec;--muted:#a0a0a8;
--line:#3a3a3e}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif}
header{position:sticky;top:0;z-index:1;background:var(--bg);padding:12px 16px 8px;
border-bottom:1px solid var(--line)}
h1{margin:0;font-size:18px}
.sub,.note{margin:2px 0;color:var(--muted);font-size:12px}
.filters{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px;align-items:center}
.filters button{font:inherit;padding:3px 10px;border-radius:14px;border:1px solid var(--line);
background:var(--card);color:inherit;cursor:pointer}
.filters button[aria-pressed=true]{background:var(--fg);color:var(--bg);border-color:var(--fg)}
.reload{margin-left:8px;color:var(--muted);font-size:12px}
.cards{list-style:none;margin:0;padding:16px;display:grid;gap:12px;
grid-template-columns:repeat(auto-fill,minmax(220px,1fr));align-items:start}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px;min-width:0}
.card[data-status=failed],.card[data-status=unknown]{border-left:4px solid var(--failed)}
.card[data-status=unknown]{border-left-color:var(--unknown)}
.card[data-status=running]{border-left:4px solid var(--running)}
body:not([data-filter=all]) .card{display:none}
body[data-filter=done] .card[data-status=done],body[data-filter=failed] .card[data-status=failed],
body[data-filter=unknown] .card[data-status=unknown],body[data-filter=running] .card[data-status=running],
body[data-filter=other] .card[data-status=other]{display:block}
.pics{display:grid;grid-template-columns:repeat(auto-fit,minmax(96px,1fr));gap:4px;margin-bottom:6px}
.pics img{display:block;width:100%;aspect-ratio:1;object-fit:contain;background:var(--bg);border-radius:4px}
.spinner{aspect-ratio:1;border-radius:4px;background:repeating-linear-gradient(-45deg,var(--bg) 0 12px,
var(--line) 12px 24px);background-size:200% 200%;animation:stripes 2s linear infinite}
@keyframes stripes{to{background-position:100% 100%}}
@media (prefers-reduced-motion:reduce){.spinner{animation:none}}
.head{display:flex;justify-content:space-between;align-items:center;gap:6px}
.badge{font-size:11px;font-weight:600;text-transform:uppercase;letter-spacing:.04em;padding:1px 6px;
border-radius:4px;color:#fff;background:var(--other)}
.badge.done{background:var(--done)}.badge.failed{background:var(--failed)}
.badge.unknown{background:var(--unknown)}.badge.running{background:var(--running)}
.line{color:var(--muted);font-size:12px;text-decoration:none}
.prompt{margin:6px 0 4px;display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;overflow:hidden}
.prompt.none{color:var(--muted);font-style:italic}
dl{margin:0;display:grid;grid-template-columns:auto 1fr;gap:0 8px;font-size:12px;color:var(--muted)}
dd{margin:0;overflow-wrap:anywhere}
code{font-size:11px}
.error,.problem{margin:6px 0 0;font-size:12px;color:var(--failed);white-space:pre-wrap;overflow-wrap:anywhere}
#selftest{margin:16px;padding:8px;border:1px dashed var(--line);white-space:pre-wrap}
"""

# Before anything else runs: record script errors, failed loads and console.error (for the self-test).
_EARLY_JS = """
window.__problems=[];
addEventListener('error',function(e){var t=e.target;__problems.push(t&&t!==window&&t.tagName?
'failed to load '+t.tagName.toLowerCase()+' '+(t.currentSrc||t.src||t.href||''):'error: '+e.message)},true);
addEventListener('unhandledrejection',function(e){__problems.push('unhandled rejection: '+e.reason)});
(function(){var ce=console.error;console.error=function(){__problems.push('console.error: '+
Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments)}})();
"""

_JS = """
(function(){
var body=document.body,buttons=[].slice.call(document.querySelectorAll('[data-filter]'));
var selftest=location.hash==='#selftest';
function show(kind){
  if(!buttons.some(function(b){return b.dataset.filter===kind}))kind='all';
  body.dataset.filter=kind;
  buttons.forEach(function(b){b.setAttribute('aria-pressed',String(b.dataset.filter===kind))});
  if(!selftest)history.replaceState(null,'',kind==='all'?location.pathname:'#'+kind);
}
buttons.forEach(function(b){b.addEventListener('click',function(){show(b.dataset.filter)})});
if(location.hash.length>1&&!selftest)show(location.hash.slice(1));
var reload=document.getElementById('reload');
if(reload&&!selftest){
  try{reload.checked=sessionStorage.getItem('ppio-gallery-reload')!=='off'}catch(e){}
  reload.addEventListener('change',function(){try{sessionStorage.setItem('ppio-gallery-reload',
    reload.checked?'on':'off')}catch(e){}});
  setInterval(function(){if(reload.checked)location.reload()},1000*Number(body.dataset.reload));
}
if(!selftest)return;
function visible(){return [].filter.call(document.querySelectorAll('.card'),
  function(c){return getComputedStyle(c).display!=='none'}).length}
addEventListener('load',function(){
  var images=[].slice.call(document.images);
  images.forEach(function(i){i.loading='eager'});
  Promise.all(images.map(function(i){return i.complete?0:new Promise(function(r){
    i.addEventListener('load',r);i.addEventListener('error',r)})})).then(function(){
    function ok(i){return i.complete&&i.naturalWidth>0}
    var report={images:images.length,loaded:images.filter(ok).length,
      broken:images.filter(function(i){return !ok(i)}).map(function(i){return i.src}),filters:{}};
    buttons.forEach(function(b){b.click();report.filters[b.dataset.filter]={
      shown:visible(),count:Number(b.querySelector('b').textContent),pressed:b.getAttribute('aria-pressed')}});
    buttons[0].click();
    report.problems=window.__problems;
    var out=document.getElementById('selftest');out.textContent=JSON.stringify(report);out.hidden=false;
  });
});
})();
"""

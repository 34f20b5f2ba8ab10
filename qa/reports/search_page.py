"""The report's search box: ``search.html`` plus a static index, so it works offline.

The index (``search_index.js``: a JSON document assigned to ``window.QA_SEARCH``, which a
page opened from ``file://`` can load where ``fetch`` of a JSON file is refused) holds the
report's calls and their utterances in the stemmed form :mod:`qa.search` indexes, and a
vocabulary from each word as written (lowercased) to its stem. The small script in the page
looks a query word up in the vocabulary (a word of the report: the stem Python gave it;
another word: the word itself) and applies the same rule as :class:`qa.search.Term`: the
stem exactly, or any stem starting with the word less its last two letters. So «дорого»
finds the same utterances here as ``qa search дорого`` over the same calls.

Under ``qa serve`` the page asks the server's ``/api/search?q=`` (all calls of the
workspace, :func:`qa.search.search`) and falls back to the static index when it cannot.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..normalize import normalizer
from ..search import text_language
from .html import esc, page

if TYPE_CHECKING:
    from .site import _Site

INDEX_FILE = "search_index.js"
PAGE_FILE = "search.html"


def build_index(site: _Site) -> dict[str, Any]:
    """The static index of the report's calls (see the module docstring)."""
    calls: list[dict[str, Any]] = []
    utts: list[list[Any]] = []
    vocab: dict[str, str] = {}
    ids = [c["call_id"] for c in site.calls]
    by_call = {c["call_id"]: c for c in site.calls}
    pos = {cid: i for i, cid in enumerate(ids)}
    for cid in ids:
        c = by_call[cid]
        calls.append({"id": cid, "m": c.get("manager") or "", "d": str(c.get("day") or c.get("started_at") or "")[:10],
                      "p": site.call_path(cid)})
    for row in site.ws.indexed_utterances(ids):
        cid, _utt, role, start, text, stems, language = row
        utts.append([pos[cid], round(float(start or 0.0), 2), role or "unknown", text, stems])
        norm = normalizer(text_language(text, language), "stems")
        analysis = norm.analyze(text)
        for k, (stem, _a, _b) in enumerate(analysis.tokens):
            vocab.setdefault(analysis.surface(k), stem)
    return {"v": 1, "calls": calls, "utts": utts, "vocab": vocab}


_SCRIPT = r"""
(function () {
  "use strict";
  var SUFFIX = 2, MIN_PREFIX = 4;  // qa.search: _SUFFIX, _MIN_PREFIX
  var box = document.getElementById("q"), out = document.getElementById("hits"), info = document.getElementById("info");
  var idx = window.QA_SEARCH || {calls: [], utts: [], vocab: {}};
  var roles = JSON.parse(out.getAttribute("data-roles") || "{}");  // role -> word of the interface
  function fold(s) { return s.toLowerCase().replace(/ё/g, "е"); }
  function words(s) { return fold(s).match(/[\p{L}\p{N}]+/gu) || []; }
  function terms(q) {
    var out = [];
    words(q).forEach(function (w) {
      var stem = idx.vocab[w] || w, prefix = stem;
      if (!/^\d/.test(stem) && w.length - stem.length > SUFFIX && w.indexOf(stem) === 0) { prefix = w.slice(0, w.length - SUFFIX); }
      if (!idx.vocab[w] && w.length > SUFFIX + 3) { prefix = w.slice(0, w.length - SUFFIX); }
      out.push({stem: stem, prefix: prefix});
    });
    return out;
  }
  function exact(t) { return /^\d/.test(t.stem) || (t.prefix === t.stem && t.stem.length < MIN_PREFIX); }
  function hit(t, tok) { return tok === t.stem || (!exact(t) && tok.indexOf(t.prefix) === 0); }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; }); }
  function clock(s) { s = Math.floor(s); var m = Math.floor(s / 60), x = s % 60; return (m < 10 ? "0" : "") + m + ":" + (x < 10 ? "0" : "") + x; }
  function mark(text, ts) {
    return text.split(/\s+/).map(function (w) {
      var ok = words(w).some(function (p) { var s = idx.vocab[p] || p; return ts.some(function (t) { return hit(t, s); }); });
      return ok ? "<mark>" + esc(w) + "</mark>" : esc(w);
    }).join(" ");
  }
  function show(rows, q) {
    info.textContent = rows.length + " / " + q;
    out.innerHTML = rows.map(function (r) {
      return "<tr><td><a href=\"" + esc(r.href) + "\">" + esc(r.call) + "</a></td><td>" + esc(r.manager) + "</td><td>" +
        esc(r.day) + "</td><td>" + esc(r.at) + "</td><td>" + esc(roles[r.role] || r.role) + "</td><td>" + r.quote + "</td></tr>";
    }).join("");
  }
  function local(q) {
    var ts = terms(q), rows = [];
    if (!ts.length) { return rows; }
    idx.utts.forEach(function (u) {
      var toks = u[4].split(" ");
      if (ts.every(function (t) { return toks.some(function (tok) { return hit(t, tok); }); })) {
        var c = idx.calls[u[0]];
        rows.push({href: c.p + "#t=" + u[1].toFixed(2), call: c.id, manager: c.m, day: c.d, at: clock(u[1]), role: u[2],
                   quote: mark(u[3], ts)});
      }
    });
    return rows;
  }
  function run() {
    var q = box.value.trim();
    if (!q) { out.innerHTML = ""; info.textContent = ""; return; }
    if (location.protocol.indexOf("http") === 0 && window.fetch) {
      fetch("api/search?q=" + encodeURIComponent(q)).then(function (r) {
        if (!r.ok) { throw new Error(r.status); }
        return r.json();
      }).then(function (data) {
        show(data.hits.map(function (h) {
          return {href: h.href || "#", call: h.call_id, manager: h.manager || "", day: h.day || "", at: h.at, role: h.role,
                  quote: esc(h.quote).replace(/\*\*(.+?)\*\*/g, "<mark>$1</mark>")};
        }), q);
      }).catch(function () { show(local(q), q); });
    } else { show(local(q), q); }
  }
  document.getElementById("search").addEventListener("submit", function (e) { e.preventDefault(); run(); });
  var m = /[?&]q=([^&]*)/.exec(location.search);
  if (m) { box.value = decodeURIComponent(m[1].replace(/\+/g, " ")); run(); }
})();
"""


def search_box(depth: int, placeholder: str) -> str:
    """The form every page may show: it opens ``search.html?q=...``."""
    up = "../" * depth
    return (
        f'<form class="search" action="{up}{PAGE_FILE}" method="get">'
        f'<input type="search" name="q" placeholder="{esc(placeholder)}" aria-label="{esc(placeholder)}">'
        "</form>"
    )


def write(site: _Site) -> None:
    """Write ``search_index.js`` and ``search.html`` into the site."""
    data = json.dumps(build_index(site), ensure_ascii=False, separators=(",", ":"))
    path = site.out / INDEX_FILE
    path.write_text("window.QA_SEARCH=" + data.replace("</", "<\\/") + ";\n", encoding="utf-8")
    t = site.t
    roles = json.dumps({r: t(f"role_{r}") for r in ("manager", "client", "unknown")}, ensure_ascii=False)
    heads = "".join(f"<th>{esc(t(k))}</th>" for k in ("call", "manager", "search_day", "time", "search_role", "quote"))
    body = (
        f"<h1>{esc(t('search'))}</h1>"
        f'<form id="search"><input id="q" type="search" autofocus placeholder="{esc(t("search_placeholder"))}"> '
        f'<button type="submit">{esc(t("search_button"))}</button></form>'
        '<p class="sub" id="info"></p>'
        f'<table class="tbl"><thead><tr>{heads}</tr></thead><tbody id="hits" data-roles="{esc(roles)}"></tbody></table>'
        f'<script src="{INDEX_FILE}"></script><script>{_SCRIPT}</script>'
    )
    # not one of the report's pages (site.pages counts the day, manager and call pages)
    html = page(title=t("search"), body=body, depth=0, labels=t,
                crumbs=[(site.period_title(), "index.html"), (t("search"), None)])
    (site.out / PAGE_FILE).write_text(html, encoding="utf-8")

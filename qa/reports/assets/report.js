/* call-qa report: evidence time stamps drive the audio player; tables sort on header click.
   Plain ES5-compatible script, no libraries, works from file:// and from `qa serve`. */
(function () {
  "use strict";

  function player() { return document.getElementById("player"); }

  function turnAt(t) {
    var turns = document.querySelectorAll(".turn[data-start]");
    var hit = null;
    for (var i = 0; i < turns.length; i++) {
      var s = parseFloat(turns[i].getAttribute("data-start"));
      var e = parseFloat(turns[i].getAttribute("data-end"));
      if (t >= s - 0.05 && t <= e + 0.05) { hit = turns[i]; }
      if (s > t) { break; }
    }
    return hit;
  }

  function flash(el) {
    if (!el) { return; }
    el.classList.add("flash");
    if (el.scrollIntoView) { el.scrollIntoView({ block: "center", behavior: "smooth" }); }
    window.setTimeout(function () { el.classList.remove("flash"); }, 1200);
  }

  // Seek the player to t seconds; play when asked (a click is a user gesture, so browsers
  // allow it). Before the metadata is in, the position is set again once it arrives.
  function seek(t, play) {
    var a = player();
    if (!a) { return; }
    var go = function () {
      try { a.currentTime = t; } catch (err) { /* not seekable yet */ }
      if (play) {
        var p = a.play();
        if (p && p.catch) { p.catch(function () { /* autoplay refused: position is set anyway */ }); }
      }
    };
    go();
    if (a.readyState < 1) { a.addEventListener("loadedmetadata", go, { once: true }); }
  }

  function onTimestamp(ev) {
    var btn = ev.target.closest ? ev.target.closest("button.ts") : null;
    if (!btn) { return; }
    ev.preventDefault();
    var t = parseFloat(btn.getAttribute("data-t"));
    if (isNaN(t)) { return; }
    seek(t, true);
    var target = btn.getAttribute("data-u");
    if (target) { flash(document.getElementById(target)); }
    if (history.replaceState) { history.replaceState(null, "", "#t=" + t.toFixed(2)); }
  }

  function followPlayback() {
    var a = player();
    if (!a) { return; }
    var current = null;
    a.addEventListener("timeupdate", function () {
      var turn = turnAt(a.currentTime);
      if (turn === current) { return; }
      if (current) { current.classList.remove("playing"); }
      if (turn) { turn.classList.add("playing"); }
      current = turn;
    });
  }

  // Links like calls/x.html#t=12.5 (from the overview) open at that moment.
  function openAtHash() {
    var m = /^#t=([0-9.]+)$/.exec(window.location.hash || "");
    if (!m) { return; }
    var t = parseFloat(m[1]);
    seek(t, false);
    flash(turnAt(t));
  }

  function sortTable(th) {
    var table = th.closest("table");
    var body = table.tBodies[0];
    if (!body) { return; }
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.getAttribute("data-type") === "num";
    var asc = !th.classList.contains("asc");
    var heads = th.parentNode.children;
    for (var i = 0; i < heads.length; i++) { heads[i].classList.remove("asc", "desc"); }
    th.classList.add(asc ? "asc" : "desc");
    var rows = Array.prototype.slice.call(body.rows);
    var key = function (row) {
      var cell = row.cells[index];
      if (!cell) { return numeric ? -Infinity : ""; }
      var v = cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : cell.textContent.trim();
      if (numeric) { var n = parseFloat(v); return isNaN(n) ? -Infinity : n; }
      return v.toLowerCase();
    };
    rows.sort(function (a, b) {
      var ka = key(a), kb = key(b);
      var r = ka < kb ? -1 : ka > kb ? 1 : 0;
      return asc ? r : -r;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  document.addEventListener("click", function (ev) {
    onTimestamp(ev);
    var th = ev.target.closest ? ev.target.closest("table.sortable th") : null;
    if (th) { sortTable(th); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    followPlayback();
    openAtHash();
  });
})();

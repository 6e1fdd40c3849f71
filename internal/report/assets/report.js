// Draws the capprof report from the JSON model in the "data" element
// (internal/report/model.go). No network, no library: plain DOM and SVG.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("data").textContent);
  var SVGNS = "http://www.w3.org/2000/svg";
  var CELL = 12, GAP = 2, STEP = CELL + GAP;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svgEl(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function list(xs) { return xs && xs.length ? xs.join(", ") : "none"; }
  function plural(n, noun) { return n + " " + noun + (n === 1 ? "" : "s"); }
  function duration(s) {
    if (s < 120) return plural(s, "second");
    if (s < 7200) return Math.round(s / 60) + " minutes";
    if (s < 172800) return (s / 3600).toFixed(1) + " hours";
    return (s / 86400).toFixed(1) + " days";
  }
  function table(head, rows) {
    var t = el("table"), tr = el("tr");
    head.forEach(function (h) { tr.appendChild(el("th", h.num ? { "class": "num" } : {}, h.name || h)); });
    t.appendChild(tr);
    rows.forEach(function (r) {
      var row = el("tr");
      r.forEach(function (c, i) { row.appendChild(el("td", head[i].num ? { "class": "num" } : {}, String(c))); });
      t.appendChild(row);
    });
    return t;
  }

  function summary() {
    var c = data.caveats;
    document.getElementById("summary").textContent =
      plural(data.workloads.length, "workload") + ", " + plural(c.checks, "check") + " in " +
      plural(c.records, "record") + (c.first ? ", " + c.first + " to " + c.last : "") +
      "; from " + list(data.inputs) + "; made " + data.generated + ".";
  }

  function caveats() {
    var c = data.caveats, ul = document.getElementById("caveat-list");
    function add(text, bad) { ul.appendChild(el("li", bad ? { "class": "caveat-bad" } : {}, text)); }
    add(c.first ? "Observation window: " + duration(c.window_seconds) + " (" + c.first + " to " + c.last +
      "). A code path not taken in it is not in the advice." : "No check had a time: the window is unknown.", !c.first);
    add("Lost events: the check records do not carry the kernel's loss counters. A recording that lost events " +
      "said so where it ran: capprof record and run on standard error, the collector as " +
      "otelcol_receiver_capabilities_events_lost and in its log (\"ring buffer full\").");
    add(c.audit_unknown ? plural(c.audit_unknown, "check") + " had an unknown audit flag (they may be NOAUDIT probes); " +
      plural(c.audit_unknown_added, "workload") + " add a capability on such checks (marked below)."
      : "Audit flag: known for every check.", c.audit_unknown_added > 0);
    if (c.malformed) add(plural(c.malformed, "input line") + " were not OTLP/JSON and were skipped.", true);
    if (c.evicted) add(plural(c.evicted, "profile") + " were evicted to stay within the profile bound: not shown.", true);
    if (c.stopped) add(plural(c.stopped, "command") + " were stopped before they ended (capprof run --timeout).", true);
    if (data.timeline.untimed) add(plural(data.timeline.untimed, "check") + " had no time and are not on the timeline.", true);
  }

  function legend() {
    var p = document.getElementById("legend");
    data.classes.forEach(function (c) {
      var s = el("span");
      s.appendChild(el("i", { "class": "swatch c-" + c }));
      s.appendChild(document.createTextNode(c));
      p.appendChild(s);
    });
    p.appendChild(el("span", {}, "blank: not checked. Hover a cell for its counts; click a workload for its advice."));
  }

  function heatmap() {
    var ws = data.workloads, ncap = data.caps.length;
    var longest = ws.reduce(function (m, w) { return Math.max(m, w.id.length); }, 8);
    var left = Math.min(longest, 60) * 6.8 + 10, top = 110;
    var width = left + ncap * STEP + 90, height = top + ws.length * STEP + 10;
    var s = svgEl("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height, id: "heat-svg" });
    data.caps.forEach(function (name, i) {
      var x = left + i * STEP + CELL / 2;
      s.appendChild(svgEl("line", { "class": "grid", x1: x, x2: x, y1: top, y2: height - 10 }));
      s.appendChild(svgEl("text", { x: x + 3, y: top - 4, transform: "rotate(-60 " + (x + 3) + " " + (top - 4) + ")" }, name));
    });
    var frag = document.createDocumentFragment();
    ws.forEach(function (w, wi) {
      var g = svgEl("g", { "class": "row", "data-workload": w.id, transform: "translate(0," + (top + wi * STEP) + ")" });
      var a = svgEl("a", { href: "#w-" + wi });
      var label = w.id.length > 60 ? w.id.slice(0, 59) + "…" : w.id;
      var t = svgEl("text", { x: left - 6, y: CELL - 2, "text-anchor": "end" }, label);
      t.appendChild(svgEl("title", {}, w.id));
      a.appendChild(t);
      g.appendChild(a);
      for (var k = 0; k < w.cells.length; k += 5) {
        g.appendChild(svgEl("rect", {
          "class": "cell c-" + data.classes[w.cells[k + 1]], x: left + w.cells[k] * STEP, y: 0, width: CELL, height: CELL,
          "data-cap": data.caps[w.cells[k]], "data-class": data.classes[w.cells[k + 1]], "data-w": wi, "data-k": k
        }));
      }
      frag.appendChild(g);
    });
    s.appendChild(frag);
    var tip = document.getElementById("tip");
    s.addEventListener("mousemove", function (ev) {
      var r = ev.target;
      if (!r.classList || !r.classList.contains("cell")) { tip.hidden = true; return; }
      var w = ws[+r.getAttribute("data-w")], k = +r.getAttribute("data-k");
      tip.textContent = w.id + " · CAP_" + data.caps[w.cells[k]] + ": " + data.classes[w.cells[k + 1]] +
        " · granted " + w.cells[k + 2] + ", denied " + w.cells[k + 3] + ", ignored " + w.cells[k + 4];
      tip.style.left = (ev.clientX + 12) + "px";
      tip.style.top = (ev.clientY + 12) + "px";
      tip.hidden = false;
    });
    s.addEventListener("mouseleave", function () { tip.hidden = true; });
    document.getElementById("heat").appendChild(s);
  }

  function attemptRows(w) {
    return w.denied.map(function (d) {
      return [d.cap, d.verdict, d.denied, list(d.exes) + (d.truncated ? " …" : ""), list(d.syscalls)];
    });
  }
  var attemptHead = ["capability", "verdict", { name: "denied", num: true }, "executables", "syscalls"];

  function denied() {
    var rows = [];
    data.workloads.forEach(function (w) {
      attemptRows(w).forEach(function (r) { rows.push([w.id].concat(r)); });
    });
    var box = document.getElementById("denied-table");
    if (!rows.length) { box.appendChild(el("p", {}, "None: no workload's own check was denied.")); return; }
    box.appendChild(table(["workload"].concat(attemptHead), rows));
  }

  function timeline() {
    var tl = data.timeline, note = document.getElementById("timeline-note");
    if (!tl.rows.length) { note.textContent = "No check had a time."; return; }
    var end = new Date(Date.parse(tl.start) + tl.buckets * tl.bucket_seconds * 1000).toISOString().replace(".000", "");
    note.textContent = "Checks per capability from " + tl.start + " to " + end + ", " + plural(tl.buckets, "bar") + " of " +
      plural(tl.bucket_seconds, "second") + "; each row scaled to its own maximum. Grey: granted, purple: denied.";
    var left = 150, bw = 10, rh = 22, width = left + tl.buckets * bw + 60, height = tl.rows.length * rh + 10;
    var s = svgEl("svg", { width: width, height: height, id: "timeline-svg" });
    tl.rows.forEach(function (row, ri) {
      var g = svgEl("g", { "class": "tl-row", "data-cap": row.name, transform: "translate(0," + (ri * rh + 4) + ")" });
      var total = 0, peak = 1;
      row.granted.forEach(function (n, i) { peak = Math.max(peak, n + row.denied[i]); total += n + row.denied[i]; });
      g.appendChild(svgEl("text", { x: left - 6, y: rh - 8, "text-anchor": "end" }, row.name));
      g.appendChild(svgEl("line", { "class": "grid", x1: left, x2: left + tl.buckets * bw, y1: rh - 4, y2: rh - 4 }));
      row.granted.forEach(function (n, i) {
        var d = row.denied[i];
        if (!n && !d) return;
        var hg = (rh - 6) * n / peak, hd = (rh - 6) * d / peak, x = left + i * bw;
        var t = "CAP_" + row.name + ", " + new Date(Date.parse(tl.start) + i * tl.bucket_seconds * 1000).toISOString() +
          ": granted " + n + ", denied " + d;
        var bar = svgEl("g", {});
        bar.appendChild(svgEl("title", {}, t));
        if (n) bar.appendChild(svgEl("rect", { x: x, y: rh - 4 - hg, width: bw - 1, height: hg, fill: "#888" }));
        if (d) bar.appendChild(svgEl("rect", { x: x, y: rh - 4 - hg - hd, width: bw - 1, height: hd, "class": "c-denied-only" }));
        g.appendChild(bar);
      });
      g.appendChild(svgEl("text", { x: left + tl.buckets * bw + 6, y: rh - 8 }, String(total)));
      s.appendChild(g);
    });
    document.getElementById("tl").appendChild(s);
  }

  function verification(box, w) {
    var v = w.verification;
    if (!v) return;
    box.appendChild(el("p", { "class": "verification" },
      (v.verified ? "Verified" : "NOT verified") + ": as " + v.user + " with exactly [" + w.add.join(", ") + "]: " +
      v.advised + " (recorded: " + v.recorded + ")."));
    var rows = v.without.map(function (r) {
      return [r.name, r.exit, r.necessary ? "proven necessary" : "not proven necessary", list(r.differences)];
    });
    if (v.differences.length) box.appendChild(el("pre", {}, v.differences.join("\n")));
    if (rows.length) box.appendChild(table(["without", "exit", "so", "differences"], rows));
  }

  function advice() {
    var box = document.getElementById("workloads"), frag = document.createDocumentFragment();
    data.workloads.forEach(function (w, wi) {
      var d = el("details", { "class": "workload", id: "w-" + wi, "data-workload": w.id, "data-pss": w.pss });
      var s = el("summary", {}, w.id);
      s.appendChild(el("span", { "class": "badge pss-" + w.pss }, "PSS " + w.pss));
      s.appendChild(el("span", { "class": "badge add" }, "add: " + list(w.add)));
      if (w.verification) {
        s.appendChild(el("span", { "class": "badge " + (w.verification.verified ? "verified" : "not-verified") },
          w.verification.verified ? "verified" : "not verified"));
      }
      if (w.denied.length) s.appendChild(el("span", { "class": "badge" }, "denied: " + w.denied.map(function (a) { return a.cap; }).join(", ")));
      d.appendChild(s);
      d.appendChild(el("p", { "class": "note" }, w.kind + "; " + plural(w.checks, "check") + " in " + plural(w.records, "record") +
        ", " + w.first + " to " + w.last + "; hosts: " + list(w.hosts) + "."));
      d.appendChild(el("pre", { "class": "advice" }, w.advice));
      if (w.declared) {
        d.appendChild(el("p", { "class": "diff" }, "Declared: add [" + w.declared.add.join(", ") + "], drop [" +
          w.declared.drop.join(", ") + "]" + (w.declared.privileged ? ", privileged" : "") + " (PSS " + w.diff.declared_pss_level +
          "). Change: " + w.change + "."));
      } else {
        d.appendChild(el("p", { "class": "diff note" }, "No declared securityContext in the records: no diff."));
      }
      if (w.audit_unknown.length) d.appendChild(el("p", { "class": "caveat-bad" }, "Added on checks with an unknown audit flag: " + w.audit_unknown.join(", ") + "."));
      if (w.stopped) d.appendChild(el("p", { "class": "caveat-bad" }, "Stopped: " + w.stopped));
      verification(d, w);
      if (w.denied.length) d.appendChild(table(attemptHead, attemptRows(w)));
      frag.appendChild(d);
    });
    box.appendChild(frag);
    function openTarget() {
      var t = document.getElementById(location.hash.slice(1));
      if (t && t.tagName === "DETAILS") t.open = true;
    }
    window.addEventListener("hashchange", openTarget);
    openTarget();
  }

  summary();
  caveats();
  legend();
  heatmap();
  denied();
  timeline();
  advice();
  // Time from navigation start to the page laid out: what the scale
  // benchmark reads (docs/report.md).
  void document.body.offsetHeight;
  document.body.setAttribute("data-render-ms", Math.round(performance.now()));
  document.body.setAttribute("data-ready", "true");
})();

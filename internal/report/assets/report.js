// Draws the capprof report from the JSON model in the "data" element
// (internal/report/model.go). No network, no library: plain DOM and SVG.
// The big parts (heat map, advice list) are built as markup strings and
// parsed once, and a workload's advice is drawn when it is opened: at 2,000
// workloads × 41 capabilities, creating elements one by one is what costs
// (docs/report.md).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("data").textContent);
  var CELL = 12, STEP = 14;
  var colOf = {};
  data.caps.forEach(function (c, i) { colOf[c] = i; });

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c];
    });
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function list(xs) { return xs && xs.length ? xs.join(", ") : "none"; }
  function plural(n, noun) { return n + " " + noun + (n === 1 ? "" : "s"); }
  function names(ids) { return ids.map(function (i) { return data.strings[i]; }); }
  function duration(s) {
    if (s < 120) return plural(s, "second");
    if (s < 7200) return Math.round(s / 60) + " minutes";
    if (s < 172800) return (s / 3600).toFixed(1) + " hours";
    return (s / 86400).toFixed(1) + " days";
  }
  // table returns a table's markup; head entries ending in "#" are numbers.
  function table(head, rows) {
    var num = head.map(function (h) { return h.slice(-1) === "#"; });
    var out = ["<table><tr>"];
    head.forEach(function (h, i) { out.push(num[i] ? "<th class=\"num\">" + esc(h.slice(0, -1)) : "<th>" + esc(h)); });
    rows.forEach(function (r) {
      out.push("<tr>");
      r.forEach(function (c, i) { out.push((num[i] ? "<td class=\"num\">" : "<td>") + esc(c)); });
    });
    out.push("</table>");
    return out.join("");
  }
  function more(xs, n) { return xs.length > n ? xs.slice(0, n).join(", ") + " and " + (xs.length - n) + " more" : list(xs); }

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
      plural(c.audit_unknown_added, "workload") + " add a capability on such checks (marked in their advice)."
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

  // heatmap draws the column labels and the rows in chunks of CHUNK rows,
  // each an SVG of its own: the first at once, the others one per task
  // after the page is shown, so that a big page is readable at once and
  // stays responsive while the rest is drawn.
  var CHUNK = 100;
  function heatmap() {
    var ws = data.workloads, ncap = data.caps.length;
    var longest = ws.reduce(function (m, w) { return Math.max(m, w.id.length); }, 8);
    var left = Math.min(longest, 60) * 6.8 + 10, top = 130, width = left + ncap * STEP + 120;
    var out = ["<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"heat-head\" width=\"" + width + "\" height=\"" + top + "\">"];
    data.caps.forEach(function (name, i) {
      var tx = left + i * STEP + CELL / 2 + 3, ty = top - 4;
      out.push("<text x=\"" + tx + "\" y=\"" + ty + "\" transform=\"rotate(-60 " + tx + " " + ty + ")\">" + esc(name) + "</text>");
    });
    out.push("</svg>");
    var chunks = Math.ceil(ws.length / CHUNK);
    for (var c = 0; c < chunks; c++) {
      out.push("<div class=\"chunk\" style=\"height:" + Math.min(CHUNK, ws.length - c * CHUNK) * STEP + "px\"></div>");
    }
    var box = document.getElementById("heat");
    box.innerHTML = out.join("");
    var divs = box.querySelectorAll(".chunk");
    function draw(c) {
      var rows = ws.slice(c * CHUNK, (c + 1) * CHUNK), h = rows.length * STEP;
      var out = ["<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"heat-rows\" width=\"" + width + "\" height=\"" + h + "\">"];
      data.caps.forEach(function (name, i) {
        var x = left + i * STEP + CELL / 2;
        out.push("<line class=\"grid\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"0\" y2=\"" + h + "\"/>");
      });
      rows.forEach(function (w, r) {
        var wi = c * CHUNK + r, label = w.id.length > 60 ? w.id.slice(0, 59) + "…" : w.id;
        out.push("<g class=\"row\" data-i=\"" + wi + "\" data-workload=\"" + esc(w.id) + "\" transform=\"translate(0," + (r * STEP) + ")\">" +
          "<a href=\"#w-" + wi + "\"><text x=\"" + (left - 6) + "\" y=\"" + (CELL - 2) + "\" text-anchor=\"end\"><title>" + esc(w.id) +
          "</title>" + esc(label) + "</text></a>");
        for (var k = 0; k < w.cells.length; k += 5) {
          out.push("<rect class=\"cell c-" + data.classes[w.cells[k + 1]] + "\" x=\"" + (left + w.cells[k] * STEP) +
            "\" width=\"12\" height=\"12\" data-cap=\"" + data.caps[w.cells[k]] + "\"/>");
        }
        out.push("</g>");
      });
      out.push("</svg>");
      divs[c].innerHTML = out.join("");
    }
    function rest(c) {
      if (c >= chunks) {
        document.body.setAttribute("data-all-rows-ms", Math.round(performance.now()));
        return;
      }
      draw(c);
      setTimeout(rest, 0, c + 1);
    }
    if (chunks) draw(0);
    setTimeout(rest, 0, 1);
    var tip = document.getElementById("tip");
    box.addEventListener("mousemove", function (ev) {
      var r = ev.target;
      if (r.tagName !== "rect") { tip.hidden = true; return; }
      var w = ws[+r.parentNode.getAttribute("data-i")], col = colOf[r.getAttribute("data-cap")];
      for (var k = 0; k < w.cells.length && w.cells[k] !== col; k += 5);
      tip.textContent = w.id + " · CAP_" + data.caps[col] + ": " + data.classes[w.cells[k + 1]] +
        " · granted " + w.cells[k + 2] + ", denied " + w.cells[k + 3] + ", ignored " + w.cells[k + 4];
      tip.style.left = (ev.clientX + 12) + "px";
      tip.style.top = (ev.clientY + 12) + "px";
      tip.hidden = false;
    });
    box.addEventListener("mouseleave", function () { tip.hidden = true; });
  }

  // denied sums the denied attempts per capability over the workloads.
  function denied() {
    var byCap = {};
    data.workloads.forEach(function (w) {
      w.denied.forEach(function (a) {
        var c = byCap[a.c] || (byCap[a.c] = { workloads: [], denied: 0, exes: {}, syscalls: {} });
        c.workloads.push(w.id);
        c.denied += a.n;
        a.e.forEach(function (i) { c.exes[data.strings[i]] = true; });
        a.s.forEach(function (i) { c.syscalls[data.strings[i]] = true; });
      });
    });
    var box = document.getElementById("denied-table"), cols = Object.keys(byCap).map(Number).sort(function (a, b) { return a - b; });
    if (!cols.length) { box.appendChild(el("p", {}, "None: no workload's own check was denied.")); return; }
    box.innerHTML = table(["capability", "denied#", "workloads", "executables", "syscalls"], cols.map(function (col) {
      var c = byCap[col];
      return [data.caps[col], c.denied, more(c.workloads, 5), more(Object.keys(c.exes).sort(), 16), more(Object.keys(c.syscalls).sort(), 16)];
    }));
  }

  function timeline() {
    var tl = data.timeline, note = document.getElementById("timeline-note");
    if (!tl.rows.length) { note.textContent = "No check had a time."; return; }
    var t0 = Date.parse(tl.start), step = tl.bucket_seconds * 1000;
    var end = new Date(t0 + tl.buckets * step).toISOString().replace(".000", "");
    note.textContent = "Checks per capability, every class (ignored ones too), from " + tl.start + " to " + end + ", " + plural(tl.buckets, "bar") + " of " +
      plural(tl.bucket_seconds, "second") + "; each row scaled to its own maximum. Grey: granted, purple: denied.";
    var left = 150, bw = 10, rh = 22, width = left + tl.buckets * bw + 60, height = tl.rows.length * rh + 10;
    var out = ["<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"timeline-svg\" width=\"" + width + "\" height=\"" + height + "\">"];
    tl.rows.forEach(function (row, ri) {
      var total = 0, peak = 1, base = rh - 4;
      row.granted.forEach(function (n, i) { peak = Math.max(peak, n + row.denied[i]); total += n + row.denied[i]; });
      out.push("<g class=\"tl-row\" data-cap=\"" + row.name + "\" transform=\"translate(0," + (ri * rh + 4) + ")\">" +
        "<text x=\"" + (left - 6) + "\" y=\"" + (rh - 8) + "\" text-anchor=\"end\">" + row.name + "</text>" +
        "<line class=\"grid\" x1=\"" + left + "\" x2=\"" + (left + tl.buckets * bw) + "\" y1=\"" + base + "\" y2=\"" + base + "\"/>");
      row.granted.forEach(function (n, i) {
        var d = row.denied[i];
        if (!n && !d) return;
        var hg = (rh - 6) * n / peak, hd = (rh - 6) * d / peak, x = left + i * bw;
        out.push("<g><title>CAP_" + row.name + ", " + new Date(t0 + i * step).toISOString() + ": granted " + n + ", denied " + d + "</title>");
        if (n) out.push("<rect x=\"" + x + "\" y=\"" + (base - hg) + "\" width=\"" + (bw - 1) + "\" height=\"" + hg + "\" fill=\"#888\"/>");
        if (d) out.push("<rect class=\"c-denied-only\" x=\"" + x + "\" y=\"" + (base - hg - hd) + "\" width=\"" + (bw - 1) + "\" height=\"" + hd + "\"/>");
        out.push("</g>");
      });
      out.push("<text x=\"" + (left + tl.buckets * bw + 6) + "\" y=\"" + (rh - 8) + "\">" + total + "</text></g>");
    });
    out.push("</svg>");
    document.getElementById("tl").innerHTML = out.join("");
  }

  function badge(cls, text) { return "<span class=\"badge " + cls + "\">" + esc(text) + "</span>"; }

  // adviceBody is the markup of an opened workload's advice.
  function adviceBody(w) {
    var out = ["<p class=\"note\">" + esc(w.kind + "; " + plural(w.checks, "check") + " in " + plural(w.records, "record") +
      ", " + w.first + " to " + w.last + "; hosts: " + list(w.hosts) + ".") + "</p>",
      "<pre class=\"advice\">" + esc(w.advice) + "</pre>"];
    if (w.declared) {
      out.push("<p class=\"diff\">" + esc("Declared: add [" + w.declared.add.join(", ") + "], drop [" + w.declared.drop.join(", ") + "]" +
        (w.declared.privileged ? ", privileged" : "") + " (PSS " + w.diff.declared_pss_level + "). Change: " + w.change + ".") + "</p>");
    } else {
      out.push("<p class=\"diff note\">No declared securityContext in the records: no diff.</p>");
    }
    if (w.audit_unknown.length) out.push("<p class=\"caveat-bad\">" + esc("Added on checks with an unknown audit flag: " + w.audit_unknown.join(", ") + ".") + "</p>");
    if (w.stopped) out.push("<p class=\"caveat-bad\">" + esc("Stopped: " + w.stopped) + "</p>");
    var v = w.verification;
    if (v) {
      out.push("<p class=\"verification\">" + esc((v.verified ? "Verified" : "NOT verified") + ": as " + v.user + " with exactly [" +
        w.add.join(", ") + "]: " + v.advised + " (recorded: " + v.recorded + ").") + "</p>");
      if (v.differences.length) out.push("<pre>" + esc(v.differences.join("\n")) + "</pre>");
      if (v.without.length) {
        out.push(table(["without", "exit", "so", "differences"], v.without.map(function (r) {
          return [r.name, r.exit, r.necessary ? "proven necessary" : "not proven necessary", list(r.differences)];
        })));
      }
    }
    if (w.denied.length) {
      out.push(table(["denied capability", "verdict", "denied#", "executables", "syscalls"], w.denied.map(function (a) {
        return [data.caps[a.c], data.classes[a.v], a.n, list(names(a.e)) + (a.t ? " …" : ""), list(names(a.s))];
      })));
    }
    return out.join("");
  }

  function advice() {
    var out = [];
    data.workloads.forEach(function (w, wi) {
      out.push("<details class=\"workload\" id=\"w-" + wi + "\" data-i=\"" + wi + "\" data-workload=\"" + esc(w.id) +
        "\" data-pss=\"" + w.pss + "\"><summary>" + esc(w.id) + badge("pss-" + w.pss, "PSS " + w.pss) + badge("add", "add: " + list(w.add)));
      if (w.verification) out.push(w.verification.verified ? badge("verified", "verified") : badge("not-verified", "not verified"));
      if (w.denied.length) out.push(badge("denied", "denied: " + w.denied.map(function (a) { return data.caps[a.c]; }).join(", ")));
      out.push("</summary></details>");
    });
    var box = document.getElementById("workloads");
    box.innerHTML = out.join("");
    // toggle does not bubble: listen in the capture phase.
    box.addEventListener("toggle", function (ev) {
      var d = ev.target;
      if (d.open && d.childElementCount === 1) d.insertAdjacentHTML("beforeend", adviceBody(data.workloads[+d.getAttribute("data-i")]));
    }, true);
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
  // Time from navigation start to the page laid out with the first rows of
  // the heat map (data-all-rows-ms: with all of them): what the scale
  // benchmark reads (docs/report.md).
  void document.body.offsetHeight;
  document.body.setAttribute("data-render-ms", Math.round(performance.now()));
  document.body.setAttribute("data-ready", "true");
})();

// The factor-space explorer (section #explorer, hidden until this runs): the items of the JSON
// island #explorer-data on two principal components, searchable, zoomable, each selectable with
// its nearest neighbours; where the report reviews a previous run's model, each item's move since
// it on request (#explorer-moves). Titles are read as text from the page's list of analysed items
// (row i of the island is the i-th title there) and only ever written back as text. Nothing is fetched.
(function () {
  "use strict";
  var section = document.getElementById("explorer"), island = document.getElementById("explorer-data");
  var names = document.querySelectorAll("#top-items details li .item");
  if (!section || !island) return;
  var data = JSON.parse(island.textContent);
  if (names.length < data.n) return;
  var ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  var SVG = "http://www.w3.org/2000/svg", MIDDLE = 2048, MINUS = "\u2212";
  var LABELS = 60, LABEL_CHARS = 32;  // at most this many labels at once, each cut to this many characters

  function unpair(text, at) { return ALPHABET.indexOf(text[at]) * 64 + ALPHABET.indexOf(text[at + 1]); }
  function value(column, i) { return Array.isArray(column) ? column[i] : column.from + unpair(column.pairs, 2 * i); }
  function fold(text) { return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); }
  function fixed(value, digits) {
    var text = Math.abs(value).toFixed(digits);
    return (value < 0 && Number(text) !== 0 ? MINUS : "") + text;
  }
  function make(tag, attributes, parent, text) {
    var node = document.createElementNS(tag === "svg" || parent instanceof SVGElement ? SVG : document.documentElement.namespaceURI, tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function score(codes, i, c) { return (unpair(codes, 2 * (c * data.n + i)) - MIDDLE) * data.scale[c]; }
  var items = [], hasMoves = typeof data.before === "string";
  for (var i = 0; i < data.n; i++) {
    var title = names[i].textContent, scores = [], near = [], sims = [], before = null;
    for (var c = 0; c < data.k; c++) scores.push(score(data.scores, i, c));
    if (hasMoves && unpair(data.before, 2 * i) !== 0) {  // 0: an item the previous run's model did not know
      before = [];
      for (c = 0; c < data.k; c++) before.push(score(data.before, i, c));
    }
    for (var j = 0; j < data.per; j++) {
      near.push(unpair(data.neighbours, 2 * (i * data.per + j)));
      sims.push((unpair(data.similarity, 2 * (i * data.per + j)) - 100) / 100);
    }
    items.push({ index: i, title: title, key: fold(title), bias: value(data.bias, i) / 1e3,
                 mean: value(data.mean, i) / 100, count: value(data.count, i), scores: scores, near: near, sims: sims,
                 before: before, moved: before && value(data.moved, i) / 100 });
  }

  // Colour: the learned bias in five groups of (about) equal size; size: the number of ratings.
  var sorted = items.map(function (it) { return it.bias; }).sort(function (a, b) { return a - b; });
  var edges = [0.2, 0.4, 0.6, 0.8].map(function (q) { return sorted[Math.floor(q * sorted.length)]; });
  var most = Math.max.apply(null, items.map(function (it) { return it.count; }));
  function group(bias) { return edges.filter(function (e) { return bias >= e; }).length; }
  function radius(it) { return 2 + 6 * Math.sqrt(it.count / most); }
  var legend = document.getElementById("explorer-legend");
  legend.textContent = "Colour: learned bias, lowest to highest, five groups of equal size: ";
  [sorted[0]].concat(edges).forEach(function (low, g) {
    var high = g < 4 ? edges[g] : sorted[sorted.length - 1];
    make("span", { class: "swatch bias-" + g, "aria-hidden": "true" }, legend);
    legend.appendChild(document.createTextNode(fixed(low, 2) + " to " + fixed(high, 2) + (g < 4 ? "; " : ". ")));
  });
  legend.appendChild(document.createTextNode("Size: number of ratings (the largest dot: " + most + ")."));
  var movesLegend = make("span", { id: "explorer-moves-legend" }, legend);

  var plot = document.getElementById("explorer-plot"), svg = plot.querySelector("svg");
  var xMenu = document.getElementById("explorer-x"), yMenu = document.getElementById("explorer-y");
  var search = document.getElementById("explorer-search"), results = document.getElementById("explorer-results");
  var panel = document.getElementById("explorer-panel"), movesBox = document.getElementById("explorer-moves");
  var trails = make("g", { class: "moves" }, svg), trailLines = [], trailEnds = [];
  var links = make("g", { class: "links" }, svg), dots = make("g", {}, svg);
  var marks = make("g", { class: "marks" }, svg), labels = make("g", { class: "labels" }, svg);
  var circles = items.map(function (it) {
    return make("circle", { class: "dot bias-" + group(it.bias), r: radius(it).toFixed(1) }, dots);
  });
  var view = {}, width = 640, height = 400, selected = null, widths = {};

  function showingMoves() { return hasMoves && movesBox !== null && movesBox.checked; }
  function extent(c) {  // the items tonight, and where they were when the moves are shown
    var values = items.map(function (it) { return it.scores[c]; });
    if (showingMoves()) items.forEach(function (it) { if (it.before) values.push(it.before[c]); });
    var low = Math.min.apply(null, values), high = Math.max.apply(null, values), pad = (high - low) * 0.06 || 1;
    return [low - pad, high + pad];
  }
  function reset() {
    var x = extent(Number(xMenu.value)), y = extent(Number(yMenu.value));
    view = { x0: x[0], x1: x[1], y0: y[0], y1: y[1] };
  }
  function at(it, where) {  // where: the item's scores (tonight's unless given)
    var s = where || it.scores;
    return [(s[Number(xMenu.value)] - view.x0) / (view.x1 - view.x0) * width,
            (view.y1 - s[Number(yMenu.value)]) / (view.y1 - view.y0) * height];
  }
  function inView(p) { return p[0] >= 0 && p[0] <= width && p[1] >= 0 && p[1] <= height; }
  function zoom(factor, px, py) {  // about the point (px, py) of the plot, else the selected item if in view, else the middle
    if (px === undefined && selected !== null && inView(at(items[selected]))) {
      px = at(items[selected])[0];
      py = at(items[selected])[1];
    }
    var fx = px === undefined ? 0.5 : px / width, fy = py === undefined ? 0.5 : py / height;
    var x = view.x0 + fx * (view.x1 - view.x0), y = view.y1 - fy * (view.y1 - view.y0);
    view = { x0: x - fx * (view.x1 - view.x0) / factor, x1: x + (1 - fx) * (view.x1 - view.x0) / factor,
             y1: y + fy * (view.y1 - view.y0) / factor, y0: y - (1 - fy) * (view.y1 - view.y0) / factor };
    draw();
  }
  function pan(dx, dy) {  // by this many pixels
    var sx = (view.x1 - view.x0) / width * dx, sy = (view.y1 - view.y0) / height * dy;
    view = { x0: view.x0 - sx, x1: view.x1 - sx, y0: view.y0 + sy, y1: view.y1 + sy };
    draw();
  }

  function labelWidth(text) {  // measured once per text, at the labels' own font
    if (!(text in widths)) {
      var probe = make("text", { class: "label" }, labels, text);
      widths[text] = probe.getComputedTextLength();
      labels.removeChild(probe);
    }
    return widths[text];
  }
  function placeLabels(points) {
    while (labels.firstChild) labels.removeChild(labels.firstChild);
    var boxes = [], order = selected === null ? [] : [selected].concat(items[selected].near);
    items.forEach(function (it) { if (order.indexOf(it.index) < 0) order.push(it.index); });
    for (var n = 0; n < order.length && boxes.length < LABELS; n++) {
      var it = items[order[n]], p = points[it.index], r = radius(it);
      if (!inView(p)) continue;
      var text = it.title.length > LABEL_CHARS ? it.title.slice(0, LABEL_CHARS - 1) + "\u2026" : it.title;
      var w = labelWidth(text), box = null;
      [p[0] + r + 2, p[0] - r - 4 - w].forEach(function (x0) {  // right of the dot, else left of it
        var tried = { x0: x0, x1: x0 + w + 2, y0: p[1] - 8, y1: p[1] + 6 };
        if (box || tried.x0 < 2 || tried.x1 > width - 2 || tried.y0 < 2 || tried.y1 > height - 2) return;
        if (!boxes.some(function (b) { return b.x0 < tried.x1 && tried.x0 < b.x1 && b.y0 < tried.y1 && tried.y0 < b.y1; })) box = tried;
      });
      if (!box) continue;
      boxes.push(box);
      make("text", { class: "label" + (it.index === selected ? " chosen" : ""), x: (box.x0 + 1).toFixed(1),
                     y: (p[1] + 4).toFixed(1) }, labels, text);
    }
  }

  // Each item's move since the previous run: a thin line from where that run's model put it (aligned
  // to tonight's space) to its dot, a small dot at the old end; made once, moved with the map.
  function drawMoves(points) {
    var shown = showingMoves();
    trails.setAttribute("display", shown ? "inline" : "none");
    if (!shown) return;
    if (!trailLines.length) {
      items.forEach(function (it) {
        if (!it.before) return;
        trailLines.push(make("line", { class: "move", "data-item": it.index }, trails));
        trailEnds.push(make("circle", { class: "was", r: "1.6", "data-item": it.index }, trails));
      });
    }
    trailLines.forEach(function (line, n) {
      var it = items[Number(line.getAttribute("data-item"))], was = at(it, it.before), now = points[it.index];
      line.setAttribute("x1", was[0].toFixed(1));
      line.setAttribute("y1", was[1].toFixed(1));
      line.setAttribute("x2", now[0].toFixed(1));
      line.setAttribute("y2", now[1].toFixed(1));
      trailEnds[n].setAttribute("cx", was[0].toFixed(1));
      trailEnds[n].setAttribute("cy", was[1].toFixed(1));
    });
  }
  function describeMoves() {  // the figure's description, for the components chosen
    movesLegend.textContent = "";
    if (!showingMoves()) return;
    var known = items.filter(function (it) { return it.before; }).length, agree = [];
    [Number(xMenu.value), Number(yMenu.value)].filter(function (c, n, both) { return both.indexOf(c) === n; }).forEach(function (c) {
      if (data.agree[c] !== null) agree.push(fixed(data.agree[c] / 100, 2) + " along component " + c);
    });
    movesLegend.textContent = " Lines: each item's move since the previous run, from a small dot where that run's model " +
      "put it (turned to tonight's orientation) to its dot tonight" +
      (known < items.length ? ", for the " + known + " items that model knew (the other " + (items.length - known) + " were new to it)." : ".") +
      (agree.length ? " The two runs agree " + agree.join(" and ") + " (1: the same places; 0: no better than every item at the centre)." : "");
  }

  var pending = false;
  function draw() {
    width = Math.max(200, Math.round(plot.clientWidth));
    height = Math.round(Math.min(520, Math.max(240, width * 0.62)));
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    var points = items.map(function (it) { return at(it); });
    circles.forEach(function (circle, n) {
      circle.setAttribute("cx", points[n][0].toFixed(1));
      circle.setAttribute("cy", points[n][1].toFixed(1));
    });
    drawMoves(points);
    while (links.firstChild) links.removeChild(links.firstChild);
    while (marks.firstChild) marks.removeChild(marks.firstChild);
    if (selected !== null) {
      var from = points[selected];
      items[selected].near.forEach(function (n) {
        make("line", { x1: from[0].toFixed(1), y1: from[1].toFixed(1), x2: points[n][0].toFixed(1), y2: points[n][1].toFixed(1) }, links);
        make("circle", { class: "near", cx: points[n][0].toFixed(1), cy: points[n][1].toFixed(1), r: (radius(items[n]) + 3).toFixed(1) }, marks);
      });
      make("circle", { class: "chosen", cx: from[0].toFixed(1), cy: from[1].toFixed(1), r: (radius(items[selected]) + 4).toFixed(1) }, marks);
      if (showingMoves() && items[selected].before) {
        var was = at(items[selected], items[selected].before);
        make("line", { class: "move", x1: was[0].toFixed(1), y1: was[1].toFixed(1), x2: from[0].toFixed(1), y2: from[1].toFixed(1) }, marks);
        make("circle", { class: "was", cx: was[0].toFixed(1), cy: was[1].toFixed(1), r: "3" }, marks);
      }
    }
    placeLabels(points);
    plot.setAttribute("data-view", [view.x0, view.x1, view.y0, view.y1].map(function (v) { return v.toFixed(4); }).join(" "));
  }
  function later() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; draw(); });
  }

  function itemButton(it, parent, text) {
    var button = make("button", { type: "button" }, make("li", {}, parent), text);
    button.addEventListener("click", function () { select(it.index); });
    return button;
  }
  function showPanel(it) {
    while (panel.firstChild) panel.removeChild(panel.firstChild);
    make("h3", { id: "explorer-selected" }, panel, it.title);
    var facts = make("dl", { class: "explorer-facts" }, panel);
    var rows = [["Learned bias", fixed(it.bias, 3)], ["Mean rating", fixed(it.mean, 2)], ["Ratings", String(it.count)]];
    if (showingMoves()) rows.push(["Move since the previous run", it.before ? fixed(it.moved, 2) : "new to it"]);
    rows.forEach(function (f) {
      var row = make("div", {}, facts);
      make("dt", {}, row, f[0]);
      make("dd", { class: "num" }, row, f[1]);
    });
    var table = make("table", { class: "data compact explorer-scores" }, panel);
    var then = showingMoves() && it.before;
    make("caption", {}, table, then ? "Its score on each component, tonight and in the previous run (aligned)" : "Its score on each component");
    var head = make("tr", {}, make("thead", {}, table)), body = make("tbody", {}, table);
    make("th", { scope: "col" }, head, "Component");
    make("th", { scope: "col", class: "num" }, head, "Score");
    if (then) make("th", { scope: "col", class: "num" }, head, "Previous run");
    it.scores.forEach(function (s, c) {
      var row = make("tr", {}, body);
      make("td", {}, row, String(c));
      make("td", { class: "num" }, row, fixed(s, 2));
      if (then) make("td", { class: "num" }, row, fixed(it.before[c], 2));
    });
    make("h4", {}, panel, "Nearest neighbours (cosine similarity)");
    var list = make("ol", { class: "explorer-neighbours" }, panel);
    it.near.forEach(function (n, k) { itemButton(items[n], list, items[n].title + " (" + fixed(it.sims[k], 2) + ")"); });
  }
  function select(index) {
    selected = index;
    var it = items[index], p = at(it);
    if (!inView(p)) pan(width / 2 - p[0], height / 2 - p[1]);
    showPanel(it);
    var hash = "#item=" + encodeURIComponent(it.title);
    if (window.location.hash !== hash) {  // the whole address: a bare "#…" resolves against a notebook's, in its frame
      try { window.history.replaceState(null, "", window.location.href.split("#")[0] + hash); } catch (e) { /* not kept */ }
    }
    draw();
  }
  function fromAddress() {  // a link to an item (opened, or followed on the page): selected, and the explorer shown
    var hash = window.location.hash;
    if (hash.indexOf("#item=") !== 0) return;
    var wanted;
    try { wanted = decodeURIComponent(hash.slice(6)); } catch (e) { return; }  // a link cut inside a %-escape
    var key = fold(wanted), found = items.filter(function (it) { return it.title === wanted; })[0] ||
                                    items.filter(function (it) { return it.key === key; })[0];
    if (!found) return;
    if (found.index !== selected) select(found.index);
    section.scrollIntoView();  // its heading at the top, unless that leaves the map's foot below the window
    if (plot.getBoundingClientRect().bottom > window.innerHeight) plot.scrollIntoView(false);
  }

  function matches() {
    var key = fold(search.value.trim());
    if (!key) return [];
    var found = items.filter(function (it) { return it.key.indexOf(key) >= 0; });
    found.sort(function (a, b) { return (b.key.indexOf(key) === 0) - (a.key.indexOf(key) === 0) || a.index - b.index; });
    return found.slice(0, 8);
  }
  search.addEventListener("input", function () {
    while (results.firstChild) results.removeChild(results.firstChild);
    matches().forEach(function (it) { itemButton(it, results, it.title); });
  });
  search.addEventListener("keydown", function (e) {
    if (e.key !== "Enter") return;
    e.preventDefault();
    var first = matches()[0];
    if (first) select(first.index);
  });

  [xMenu, yMenu].forEach(function (menu) { menu.addEventListener("change", function () { reset(); describeMoves(); draw(); }); });
  if (hasMoves && movesBox) {
    movesBox.addEventListener("change", function () {  // the view kept: Reset fits the old ends in too
      describeMoves();
      if (selected !== null) showPanel(items[selected]);
      draw();
    });
  }
  document.getElementById("explorer-zoom-in").addEventListener("click", function () { zoom(1.5); });
  document.getElementById("explorer-zoom-out").addEventListener("click", function () { zoom(1 / 1.5); });
  document.getElementById("explorer-reset").addEventListener("click", function () { reset(); draw(); });
  plot.addEventListener("keydown", function (e) {
    var step = { ArrowLeft: [40, 0], ArrowRight: [-40, 0], ArrowUp: [0, 40], ArrowDown: [0, -40] }[e.key];
    if (step) pan(step[0], step[1]);
    else if (e.key === "+" || e.key === "=") zoom(1.5);
    else if (e.key === "-") zoom(1 / 1.5);
    else if (e.key === "0") { reset(); draw(); }
    else return;
    e.preventDefault();
  });
  function local(e) {
    var box = svg.getBoundingClientRect();
    return [(e.clientX - box.left) * width / box.width, (e.clientY - box.top) * height / box.height];
  }
  var drag = null;
  svg.addEventListener("pointerdown", function (e) {
    drag = { start: local(e), last: local(e), moved: false };
    svg.setPointerCapture(e.pointerId);
  });
  svg.addEventListener("pointermove", function (e) {
    if (!drag) return;
    var p = local(e);
    if (Math.abs(p[0] - drag.start[0]) + Math.abs(p[1] - drag.start[1]) > 4) drag.moved = true;
    if (drag.moved) pan(p[0] - drag.last[0], p[1] - drag.last[1]);
    drag.last = p;
  });
  svg.addEventListener("pointerup", function (e) {
    var p = local(e), was = drag;
    drag = null;
    if (!was || was.moved) return;
    var best = null, distance = 12;
    items.forEach(function (it) {
      var q = at(it), d = Math.sqrt(Math.pow(q[0] - p[0], 2) + Math.pow(q[1] - p[1], 2));
      if (d < Math.max(distance, radius(it))) { best = it; distance = d; }
    });
    if (best) select(best.index);
  });
  svg.addEventListener("wheel", function (e) {
    e.preventDefault();
    var p = local(e);
    zoom(e.deltaY < 0 ? 1.25 : 0.8, p[0], p[1]);
  }, { passive: false });
  window.addEventListener("resize", later);
  window.addEventListener("hashchange", fromAddress);

  section.hidden = false;
  Array.prototype.forEach.call(document.querySelectorAll(".toc .scripted"), function (li) { li.hidden = false; });
  reset();
  describeMoves();  // a box the browser kept checked from before a reload
  draw();
  fromAddress();
})();

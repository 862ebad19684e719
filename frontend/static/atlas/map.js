// The map: the knowledge graph drawn as SVG from /graph.json (positions computed on the server).
// Pan (drag), zoom (wheel, pinch, buttons), hover/focus to highlight neighbours and explain edges,
// click to open a node's card, filters (node kind, edge kind, lens facet) and guided tours.
// All state lives in the URL (?node=&kinds=&edges=&facet=&tour=&step=), so the back button works.
(() => {
  "use strict";
  const app = document.getElementById("map-app");
  if (!app) return;
  const NS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const canvas = $("map-canvas");
  const cardBox = $("map-card");
  const cardBody = $("card-body");
  const explain = $("map-explain");
  const tourBar = $("tour-bar");
  const SIZE = { family: 17, method: 6, lens: 10, axis: 8, unification: 9, "failure-mode": 9, pipeline: 9, glossary: 5 };
  const TREE = new Set(["lineage", "variant_of"]);
  const ARROWS = new Set(["lineage", "variant_of"]);
  const state = { node: "", kinds: new Set(), edges: new Set(), facet: "", tour: "", step: 0 };
  let G = null;
  let byId = new Map();
  let svg = null;
  let home = null;
  let view = null;
  const shown = new Set(); // passes the filters
  const visible = new Set(); // passes the filters and the level of detail: drawn now
  let axisGroup = null;
  let tagGroup = null; // each band's name, pinned to the left edge while its family node is off screen
  let hovered = null;
  let intro = "";

  // --- Shapes: one per node kind (colour is never the only signal) ------------------------------
  const poly = (n, r, turn = -90) =>
    "M" + Array.from({ length: n }, (_, i) => {
      const a = ((turn + (360 * i) / n) * Math.PI) / 180;
      return `${(r * Math.cos(a)).toFixed(2)},${(r * Math.sin(a)).toFixed(2)}`;
    }).join("L") + "Z";
  const circle = (r) => `M${-r},0a${r},${r} 0 1,0 ${2 * r},0a${r},${r} 0 1,0 ${-2 * r},0Z`;
  const rect = (w, h) => `M${-w},${-h}H${w}V${h}H${-w}Z`;
  const plus = (r) => { const t = r / 3; return `M${-t},${-r}H${t}V${-t}H${r}V${t}H${t}V${r}H${-t}V${t}H${-r}V${-t}H${-t}Z`; };
  const eye = (r) => `M${-r},0A${1.3 * r},${1.3 * r} 0 0 1 ${r},0A${1.3 * r},${1.3 * r} 0 0 1 ${-r},0Z`;
  function shape(kind, r = SIZE[kind] || 7) {
    switch (kind) {
      case "family": return circle(r) + circle(r * 0.55);
      case "method": return circle(r);
      case "lens": return eye(r * 1.2);
      case "axis": return rect(r, r);
      case "glossary": return plus(r * 1.2);
      case "unification": return poly(4, r * 1.25);
      case "failure-mode": return poly(3, r * 1.3);
      case "confusion": return poly(3, r * 1.3, 90);
      case "open-problem": return poly(6, r);
      case "research-direction": return poly(3, r * 1.3, 0);
      case "trend": return poly(5, r);
      case "pipeline": return rect(r * 1.4, r * 0.8);
      case "essay": return rect(r * 0.75, r);
      case "tour": return poly(4, r, 0) + circle(r * 0.4);
      default: return poly(5, r * 1.2, -90) + poly(5, r * 0.5, 90);
    }
  }

  const el = (name, attrs = {}, parent = null) => {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (parent) parent.append(node);
    return node;
  };

  // --- Drawing ----------------------------------------------------------------------------------
  // Regions (one band per family), the year axis, bridges (unifications joining bands), edges
  // (hidden until a node is hovered or selected, except the lineage among visible nodes), nodes.
  function draw() {
    svg = el("svg", { class: "map-svg", role: "group", "aria-label": `Map of the six families, their lineage by year and the unifications between them; arrow keys move between nodes, Enter opens one` });
    const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" }, el("defs", {}, svg));
    el("path", { d: "M0,0L10,5L0,10Z", class: "arrow" }, marker);
    const regions = el("g", { class: "regions", "aria-hidden": "true" }, svg);
    for (const r of G.graph.regions || []) {
      el("rect", { class: `region fam fam-${r.family}`, x: 0, y: r.y, width: G.graph.width, height: r.h, rx: 10 }, regions);
    }
    tagGroup = el("g", { class: "region-tags", "aria-hidden": "true" }, svg);
    axisGroup = el("g", { class: "axis", "aria-hidden": "true" }, svg);
    for (const t of G.graph.axis || []) {
      const tick = el("text", { x: t.x, y: 0, "text-anchor": "middle" }, axisGroup);
      tick.textContent = String(t.year);
      tick.__x = t.x;
    }
    const bridges = el("g", { class: "bridges", "aria-hidden": "true" }, svg);
    const edges = el("g", { class: "edges" }, svg);
    const nodes = el("g", { class: "nodes" }, svg);
    svg.append(tagGroup);
    for (const n of G.nodes) {
      n.links = [];
      n.band = (G.graph.regions || []).find((r) => r.family === n.band) || null;
      n.short = shortLabel(n);
      byId.set(n.id, n);
    }
    for (const n of G.nodes) {
      if (n.kind !== "unification") continue;
      for (const r of G.graph.regions || []) {
        if (!n.families.includes(r.family)) continue;
        const edgeY = r.y > n.y ? r.y : r.y + r.h;
        el("line", { class: `bridge fam fam-${r.family}`, x1: n.x, y1: n.y, x2: n.x, y2: edgeY + (r.y > n.y ? 12 : -12) }, bridges);
      }
    }
    for (const link of G.links) {
      const a = byId.get(link.source), b = byId.get(link.target);
      if (!a || !b) continue;
      const cls = `edge e-${link.kind}${link.style === "dotted" ? " dotted" : ""}`;
      const [x2, y2] = trim(a, b);
      link.el = el("line", { class: cls, x1: a.x, y1: a.y, x2, y2 }, edges);
      if (ARROWS.has(link.kind)) link.el.setAttribute("marker-end", "url(#arrow)");
      link.el.__link = link;
      a.links.push(link);
      b.links.push(link);
    }
    for (const n of G.nodes) {
      const fam = n.band ? n.band.family : n.families[0] || "none";
      // The accessible name holds the visible label too (the short form when that is drawn).
      // (axe compares whole words, so the short form stands apart: "EqM — Energy Matching = …").
      const name = n.title.includes(n.short) ? n.title : `${n.short} — ${n.title}`;
      n.el = el("a", { href: nodeUrl(n.id), class: `node k-${n.kind} fam fam-${fam}`, tabindex: -1, "aria-label": `${name} · ${G.kinds[n.kind] || n.kind}`, transform: `translate(${n.x},${n.y})` }, nodes);
      n.el.__node = n;
      el("path", { class: "shape", d: shape(n.kind) }, n.el);
      n.label = el("text", { class: "label" }, n.el);
      n.label.textContent = n.title;
    }
    const first = byId.get("diffusion") || G.nodes[0];
    if (first) first.el.setAttribute("tabindex", 0);
    canvas.append(svg);
    home = bounds();
    setView(startView());
  }

  const nodeUrl = (id) => app.dataset.nodeUrl.replace("__slug__", encodeURIComponent(id));

  // A short form for crowded places: the family's short name, the method's shortest alias, or the
  // part of the title before a dash or parenthesis.
  function shortLabel(n) {
    if (n.kind === "family") {
      const abbreviation = n.title.match(/\(([^)]+)\)\s*$/);
      return abbreviation ? abbreviation[1] : n.title.replace(/ Models?$/, "").split(" and ")[0];
    }
    if (n.title.length <= 22) return n.title;
    const paren = n.title.match(/\(([^)]{2,14})\)\s*$/);
    if (paren) return paren[1];
    const alias = (n.aliases || []).filter((a) => a.length <= 16).sort((a, b) => a.length - b.length)[0];
    if (alias) return alias;
    const head = n.title.split(/ [—–:(] ?/)[0];
    return head.length <= 24 ? head : head.slice(0, 20).trimEnd() + "…";
  }

  // The initial view: the family bands (the strip of other nodes beneath is reached by zooming).
  function bounds() {
    const regions = G.graph.regions || [];
    if (!regions.length) return { x: 0, y: 0, w: G.graph.width, h: G.graph.height };
    const last = regions[regions.length - 1];
    return { x: -10, y: regions[0].y - 34, w: G.graph.width + 20, h: last.y + last.h - regions[0].y + 44 };
  }

  function trim(a, b) {
    const dx = b.x - a.x, dy = b.y - a.y, d = Math.hypot(dx, dy) || 1;
    const r = (SIZE[b.kind] || 7) + 3;
    return [(b.x - (dx / d) * r).toFixed(1), (b.y - (dy / d) * r).toFixed(1)];
  }

  // --- Level of detail: which nodes are drawn at this zoom ------------------------------------
  // Zoomed out: tier 0 (families, unifications, landmark methods). Zooming in adds tier 1 (the
  // other methods, failure modes, open problems), then tier 2. Selecting a family expands its band;
  // hovering or selecting a node shows its neighbours. Filters override the zoom.
  // By screen pixels per map unit, so a phone and a desktop show the same detail at the same size.
  function level() {
    const scale = canvas.clientWidth / view.w;
    return scale < 0.95 ? 0 : scale < 1.95 ? 1 : 2;
  }
  // A portrait screen starts with the bands at full height from the left (family names and the
  // early years), readable, and pans sideways; "Fit" still shows everything.
  function startView() {
    const aspect = canvas.clientWidth / Math.max(canvas.clientHeight, 1);
    return aspect < 1 ? { x: home.x, y: home.y, w: home.h * aspect * 1.25, h: home.h } : { ...home };
  }
  function updateDetail() {
    const lod = level();
    const selected = byId.get(state.node);
    const expanded = selected ? (selected.kind === "family" ? selected.id : selected.band && selected.band.family) : "";
    const filtered = state.kinds.size || state.edges.size;
    visible.clear();
    for (const n of G.nodes) {
      if (!shown.has(n.id)) continue;
      if (filtered || n.tier <= lod || (expanded && n.tier <= 1 && n.band && n.band.family === expanded)) visible.add(n.id);
    }
    for (const extra of [selected, hovered]) {
      if (!extra) continue;
      visible.add(extra.id);
      for (const l of extra.links) if (!l.el.classList.contains("hidden")) { visible.add(l.source); visible.add(l.target); }
    }
    for (const n of G.nodes) n.el.classList.toggle("lod-hidden", !visible.has(n.id));
    for (const l of G.links) {
      if (!l.el) continue;
      const both = visible.has(l.source) && visible.has(l.target);
      const between = byId.get(l.source).kind !== "family" && byId.get(l.target).kind !== "family";
      const structural = state.edges.size ? state.edges.has(l.kind) : TREE.has(l.kind) && between;
      l.el.classList.toggle("lod-hidden", !(both && (structural || l.el.classList.contains("hl"))));
    }
    placeLabels();
  }

  // --- Labels: collision-aware placement in screen pixels ----------------------------------------
  // In priority order each visible node tries its full title, then its short form, to the right,
  // left, above and below; the first box that overlaps no placed label, no other node's mark and
  // stays on screen wins, otherwise the label is hidden (the node keeps its mark and aria-label).
  const measure = (() => {
    const ctx = document.createElement("canvas").getContext("2d");
    const cache = new Map();
    return (text, font) => {
      const key = font + "|" + text;
      if (!cache.has(key)) { ctx.font = font; cache.set(key, ctx.measureText(text).width); }
      return cache.get(key);
    };
  })();
  function priority(n) {
    if (n.id === state.node) return -10;
    if (hovered && n.id === hovered.id) return -9;
    return ({ family: 0, unification: 1 }[n.kind] ?? 2) + n.tier * 3 - Math.min(n.links.length, 30) / 100;
  }
  function placeLabels() {
    const width = canvas.clientWidth, height = canvas.clientHeight;
    if (!width || !height) return;
    const scale = width / view.w;
    const family = getComputedStyle(svg).fontFamily;
    const marks = [];
    const order = [...visible].map((id) => byId.get(id));
    for (const n of order) {
      n.sx = (n.x - view.x) * scale;
      n.sy = (n.y - view.y) * scale;
      n.r = (SIZE[n.kind] || 7) * 1.3 * Math.min(scale, 1.6) + 1;
      marks.push({ n, x0: n.sx - n.r, y0: n.sy - n.r, x1: n.sx + n.r, y1: n.sy + n.r });
    }
    order.sort((a, b) => priority(a) - priority(b) || a.id.localeCompare(b.id));
    const tags = pinRegionTags(scale, width, height);
    const placed = [...tags, ...placeTicks(scale, width, tags)];
    const hits = (box) => placed.some((p) => box.x0 < p.x1 && box.x1 > p.x0 && box.y0 < p.y1 && box.y1 > p.y0)
      || marks.some((m) => m.n !== box.n && box.x0 < m.x1 && box.x1 > m.x0 && box.y0 < m.y1 && box.y1 > m.y0);
    for (const n of G.nodes) if (!visible.has(n.id)) n.label.classList.add("off");
    for (const n of order) {
      const big = n.kind === "family";
      const size = big ? 15 : 12;
      const font = `${big ? 700 : 400} ${size}px ${family}`;
      const h = size * 1.3, gap = 4;
      let done = false;
      for (const text of n.short === n.title ? [n.title] : [n.title, n.short]) {
        const w = measure(text, font) + 4;
        const spots = [
          [n.sx + n.r + gap, n.sy - h / 2, "start"],
          [n.sx - n.r - gap - w, n.sy - h / 2, "end"],
          [n.sx - w / 2, n.sy - n.r - gap - h, "middle"],
          [n.sx - w / 2, n.sy + n.r + gap, "middle"],
          [n.sx - n.r, n.sy + n.r + gap, "start"],
          [n.sx - n.r, n.sy - n.r - gap - h, "start"],
        ];
        for (const [x0, y0, anchor] of spots) {
          const box = { n, x0, y0, x1: x0 + w, y1: y0 + h };
          if (x0 < 0 || y0 < 0 || box.x1 > width || box.y1 > height || hits(box)) continue;
          placed.push(box);
          const tx = anchor === "start" ? x0 + 2 : anchor === "end" ? box.x1 - 2 : x0 + w / 2;
          n.label.textContent = text;
          n.label.setAttribute("text-anchor", anchor);
          n.label.setAttribute("x", ((tx - n.sx) / scale).toFixed(2));
          n.label.setAttribute("y", ((y0 + size * 1.0 - n.sy) / scale).toFixed(2));
          n.label.classList.remove("off");
          done = true;
          break;
        }
        if (done) break;
      }
      if (!done) n.label.classList.add("off");
    }
  }
  // While a band's family node is off screen, its short name is pinned at the left edge of the band
  // (placed first, so node labels make way for it).
  function pinRegionTags(scale, width, height) {
    const boxes = [];
    const font = `700 12px ${getComputedStyle(svg).fontFamily}`;
    if (!tagGroup.children.length) {
      for (const r of G.graph.regions || []) {
        const tag = el("text", { class: `region-tag fam fam-${r.family}` }, tagGroup);
        tag.textContent = byId.get(r.family) ? byId.get(r.family).short : r.family;
        tag.__region = r;
      }
    }
    for (const tag of tagGroup.children) {
      const r = tag.__region, family = byId.get(r.family);
      const top = (r.y - view.y) * scale, bottom = (r.y + r.h - view.y) * scale;
      const onScreen = family && visible.has(family.id) && family.sx >= 0 && family.sx <= width && family.sy >= 0 && family.sy <= height;
      const y0 = Math.max(top + 3, 3);
      const show = !onScreen && bottom - y0 > 20 && y0 < height - 18;
      tag.classList.toggle("off", !show);
      if (!show) continue;
      const w = measure(tag.textContent, font) + 4;
      boxes.push({ n: null, x0: 4, y0, x1: 4 + w, y1: y0 + 16 });
      tag.setAttribute("x", (view.x + 6 / scale).toFixed(2));
      tag.setAttribute("y", (view.y + (y0 + 12) / scale).toFixed(2));
    }
    return boxes;
  }

  // Year ticks along the top edge, left to right, each skipped if it would touch the one before;
  // their boxes are returned so that node labels keep clear of them.
  function placeTicks(scale, width, avoid) {
    const boxes = [];
    let right = -Infinity;
    const font = `11px ${getComputedStyle(svg).fontFamily}`;
    const top = (G.graph.regions || [{ y: 0 }])[0].y;
    for (const tick of axisGroup.children) {
      const half = measure(tick.textContent, font) / 2 + 6;
      const sx = (tick.__x - view.x) * scale;
      const y = Math.max(view.y + 14 / scale, top - 8);
      const sy = (y - view.y) * scale;
      const box = { n: null, x0: sx - half + 6, y0: sy - 11, x1: sx + half - 6, y1: sy + 3 };
      const clash = avoid.some((p) => box.x0 < p.x1 && box.x1 > p.x0 && box.y0 < p.y1 && box.y1 > p.y0);
      const off = clash || sx - half < right || sx - half < 0 || sx + half > width;
      tick.classList.toggle("off", off);
      tick.setAttribute("y", y.toFixed(2));
      if (off) continue;
      right = sx + half;
      boxes.push(box);
    }
    return boxes;
  }
  let frame = 0;
  function scheduleDetail() {
    if (frame) return;
    frame = requestAnimationFrame(() => { frame = 0; updateDetail(); });
  }

  // --- Pan and zoom: the SVG viewBox --------------------------------------------------------------
  function setView(v) {
    const aspect = canvas.clientWidth / Math.max(canvas.clientHeight, 1) || 1.6;
    if (v.w / v.h > aspect) { const h = v.w / aspect; v.y -= (h - v.h) / 2; v.h = h; }
    else { const w = v.h * aspect; v.x -= (w - v.w) / 2; v.w = w; }
    view = v;
    svg.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
    const ratio = v.w / home.w;
    svg.style.setProperty("--u", String(v.w / Math.max(canvas.clientWidth, 1)));
    svg.classList.toggle("zoomed", ratio < 0.62);
    scheduleDetail();
  }
  function toSvg(clientX, clientY) {
    const box = svg.getBoundingClientRect();
    return { x: view.x + ((clientX - box.left) / box.width) * view.w, y: view.y + ((clientY - box.top) / box.height) * view.h };
  }
  function zoom(factor, at) {
    const w = Math.min(Math.max(view.w * factor, home.w * 0.05), home.w * 3);
    const f = w / view.w;
    setView({ x: at.x - (at.x - view.x) * f, y: at.y - (at.y - view.y) * f, w, h: view.h * f });
  }
  // On narrow screens the card opens over the lower half of the map: keep the node above it.
  const cardCovers = window.matchMedia("(max-width: 900px)");
  function centerOn(n) {
    const w = Math.min(view.w, home.w * 0.6);
    const h = (w * view.h) / view.w;
    setView({ x: n.x - w / 2, y: n.y - h * (cardCovers.matches ? 0.25 : 0.5), w, h });
  }

  function wirePanZoom() {
    const pointers = new Map();
    let moved = 0, pinch = 0;
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      zoom(Math.exp(e.deltaY * 0.0015), toSvg(e.clientX, e.clientY));
    }, { passive: false });
    svg.addEventListener("pointerdown", (e) => {
      pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      moved = 0;
      if (pointers.size === 2) pinch = spread();
    });
    window.addEventListener("pointermove", (e) => {
      const last = pointers.get(e.pointerId);
      if (!last) return;
      const box = svg.getBoundingClientRect();
      if (pointers.size === 1) {
        const dx = e.clientX - last.x, dy = e.clientY - last.y;
        moved += Math.abs(dx) + Math.abs(dy);
        if (moved > 4) {
          svg.classList.add("panning");
          setView({ ...view, x: view.x - (dx * view.w) / box.width, y: view.y - (dy * view.h) / box.height });
        }
      }
      pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (pointers.size === 2) {
        const now = spread();
        const mid = [...pointers.values()].reduce((m, p) => ({ x: m.x + p.x / 2, y: m.y + p.y / 2 }), { x: 0, y: 0 });
        if (pinch && now) zoom(pinch / now, toSvg(mid.x, mid.y));
        pinch = now;
        moved = 99;
      }
    });
    const up = (e) => {
      pointers.delete(e.pointerId);
      svg.classList.remove("panning");
      if (pointers.size < 2) pinch = 0;
    };
    window.addEventListener("pointerup", up);
    window.addEventListener("pointercancel", up);
    svg.addEventListener("click", (e) => {
      const node = e.target.closest(".node");
      if (!node || e.ctrlKey || e.metaKey || e.shiftKey) return;
      e.preventDefault();
      if (moved <= 4) select(node.__node.id, { push: true, focus: e.detail === 0 });
    });
    function spread() {
      const [a, b] = [...pointers.values()];
      return a && b ? Math.hypot(a.x - b.x, a.y - b.y) : 0;
    }
    document.querySelectorAll("[data-zoom]").forEach((b) => b.addEventListener("click", () => {
      const center = { x: view.x + view.w / 2, y: view.y + view.h / 2 };
      if (b.dataset.zoom === "fit") setView({ ...home });
      else zoom(b.dataset.zoom === "in" ? 0.7 : 1.4, center);
    }));
    window.addEventListener("resize", () => setView({ ...view }));
  }

  // --- Hover / focus: neighbours and the explanation of each edge ------------------------------
  const title = (id) => (byId.get(id) || { title: id }).title;
  function edgeText(l) {
    return `${title(l.source)} —${G.edge_kinds[l.kind] || l.kind}→ ${title(l.target)}${l.text ? ": " + l.text : ""}`;
  }
  function highlight(n) {
    clearHighlight();
    svg.classList.add("focus-mode");
    n.el.classList.add("hl");
    const links = n.links.filter((l) => !l.el.classList.contains("hidden"));
    for (const l of links) {
      l.el.classList.add("hl");
      byId.get(l.source === n.id ? l.target : l.source).el.classList.add("hl");
    }
    const lines = links.slice(0, 4).map(edgeText);
    const more = links.length > 4 ? ` … and ${links.length - 4} more (see the card)` : "";
    explain.textContent = links.length ? `${n.title}: ${lines.join(" · ")}${more}` : `${n.title}: no visible edges`;
    hovered = n;
    scheduleDetail();
  }
  function clearHighlight() {
    svg.classList.remove("focus-mode");
    svg.querySelectorAll(".hl").forEach((x) => x.classList.remove("hl"));
    if (hovered) { hovered = null; scheduleDetail(); }
  }
  function restoreHighlight() {
    const selected = byId.get(state.node);
    if (selected) highlight(selected); else { clearHighlight(); explain.textContent = ""; }
  }
  function wireHover() {
    svg.addEventListener("pointerover", (e) => {
      const node = e.target.closest(".node");
      if (node) return highlight(node.__node);
      if (e.target.__link) explain.textContent = edgeText(e.target.__link);
    });
    svg.addEventListener("pointerout", (e) => {
      if (e.target.closest(".node")) restoreHighlight();
    });
    svg.addEventListener("focusin", (e) => {
      const node = e.target.closest(".node");
      if (node) highlight(node.__node);
    });
    svg.addEventListener("focusout", restoreHighlight);
    svg.addEventListener("keydown", (e) => {
      const node = e.target.closest(".node");
      const dir = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowDown: [0, 1], ArrowUp: [0, -1] }[e.key];
      if (!node || !dir) return;
      e.preventDefault();
      const next = nearest(node.__node, dir);
      if (next) focusNode(next);
    });
  }
  function nearest(from, [dx, dy]) {
    let best = null, bestScore = Infinity;
    for (const n of G.nodes) {
      if (n === from || !visible.has(n.id)) continue;
      const vx = n.x - from.x, vy = n.y - from.y;
      const along = vx * dx + vy * dy, across = Math.abs(vx * dy - vy * dx);
      if (along <= 0 || across > along * 1.5) continue;
      const s = along + 2 * across;
      if (s < bestScore) { bestScore = s; best = n; }
    }
    return best;
  }
  function focusNode(n) {
    svg.querySelectorAll('.node[tabindex="0"]').forEach((x) => x.setAttribute("tabindex", -1));
    n.el.setAttribute("tabindex", 0);
    n.el.focus({ preventScroll: true });
    const pad = view.w * 0.08;
    if (n.x < view.x + pad || n.x > view.x + view.w - pad || n.y < view.y + pad || n.y > view.y + view.h - pad) centerOn(n);
  }

  // --- Selection and the card -----------------------------------------------------------------------
  let cardRequest = 0;
  async function select(id, { push = false, focus = false, center = true } = {}) {
    const n = byId.get(id);
    if (!n) return;
    state.node = id;
    svg.querySelectorAll(".node.selected").forEach((x) => x.classList.remove("selected"));
    n.el.classList.add("selected");
    svg.querySelectorAll('.node[tabindex="0"]').forEach((x) => x.setAttribute("tabindex", -1));
    n.el.setAttribute("tabindex", 0);
    highlight(n);
    if (center) centerOn(n);
    if (push) writeUrl(true);
    const ticket = ++cardRequest;
    scheduleDetail();
    const response = await fetch(app.dataset.cardUrl.replace("__slug__", encodeURIComponent(id)), { credentials: "same-origin" });
    if (ticket !== cardRequest) return;
    if (response.ok) cardBody.innerHTML = await response.text(); // server-rendered, escaped HTML
    else {
      const error = document.createElement("p");
      error.className = "error";
      error.textContent = `Could not load ${n.title}.`;
      cardBody.replaceChildren(error);
    }
    cardBox.scrollTop = 0;
    if (focus) cardBox.focus({ preventScroll: true });
    app.dataset.selected = id;
  }
  function wireCard() {
    cardBody.addEventListener("click", (e) => {
      const link = e.target.closest("a[data-slug]");
      if (!link || e.ctrlKey || e.metaKey || e.shiftKey || !byId.has(link.dataset.slug)) return;
      e.preventDefault();
      select(link.dataset.slug, { push: true, focus: true });
    });
    document.addEventListener("atlas:jump", (e) => {
      ensureShown(e.detail.slug);
      select(e.detail.slug, { push: true, focus: e.detail.focus });
    });
  }
  function ensureShown(id) {
    if (!shown.has(id)) { state.kinds.clear(); state.edges.clear(); applyFilters(); }
  }

  // --- Filters --------------------------------------------------------------------------------------
  function applyFilters() {
    const kindOk = (n) => !state.kinds.size || state.kinds.has(n.kind);
    shown.clear();
    for (const l of G.links) {
      if (!l.el) continue;
      const ok = kindOk(byId.get(l.source)) && kindOk(byId.get(l.target)) && (!state.edges.size || state.edges.has(l.kind));
      l.el.classList.toggle("hidden", !ok);
      if (ok && state.edges.size) { shown.add(l.source); shown.add(l.target); }
    }
    for (const n of G.nodes) {
      if (!state.edges.size && kindOk(n)) shown.add(n.id);
      n.el.classList.toggle("hidden", !shown.has(n.id) && n.id !== state.node);
    }
    if (svg) scheduleDetail();
    const [lens, tag] = state.facet.split(":");
    const families = new Set(((G.facets[lens] || {})[tag]) || []);
    for (const n of G.nodes) {
      const match = families.size > 0 && n.families.some((f) => families.has(f));
      n.el.classList.toggle("faded", families.size > 0 && !match);
      n.el.classList.toggle("match", families.size > 0 && n.kind === "family" && families.has(n.id));
    }
    document.querySelectorAll("[data-kind]").forEach((b) => b.setAttribute("aria-pressed", String(state.kinds.has(b.dataset.kind))));
    document.querySelectorAll("[data-edge]").forEach((b) => b.setAttribute("aria-pressed", String(state.edges.has(b.dataset.edge))));
    $("facet-filter").value = state.facet;
    svg.classList.toggle("faceted", families.size > 0);
    describeFilters(families);
  }
  function describeFilters(families) {
    const parts = [];
    if (state.kinds.size) parts.push("kinds: " + [...state.kinds].map((k) => G.kinds[k] || k).join(", "));
    if (state.edges.size) parts.push("edges: " + [...state.edges].map((k) => G.edge_kinds[k] || k).join(", "));
    if (state.facet) {
      const [lens, tag] = state.facet.split(":");
      const option = $("facet-filter").selectedOptions[0];
      const words = (option && option.dataset.words) || tag;
      parts.push(`facet “${words}” of ${G.lenses[lens] || lens}: ${[...families].map(title).join(", ") || "no family"}`);
    }
    $("active-filters").textContent = parts.length ? `Showing ${shown.size} of ${G.nodes.length} nodes — ${parts.join(" · ")}` : "";
  }
  function wireFilters() {
    const toggle = (set, key) => { set.has(key) ? set.delete(key) : set.add(key); applyFilters(); writeUrl(false); };
    document.querySelectorAll("[data-kind]").forEach((b) => b.addEventListener("click", () => toggle(state.kinds, b.dataset.kind)));
    document.querySelectorAll("[data-edge]").forEach((b) => b.addEventListener("click", () => toggle(state.edges, b.dataset.edge)));
    $("facet-filter").addEventListener("change", (e) => { state.facet = e.target.value; applyFilters(); writeUrl(false); });
    $("clear-filters").addEventListener("click", () => {
      state.kinds.clear(); state.edges.clear(); state.facet = "";
      applyFilters(); writeUrl(false);
    });
  }

  // --- Tours: step-through sequences over the map -------------------------------------------------
  function wireTours() {
    const picker = $("tour-select");
    for (const t of G.tours.slice().sort((a, b) => (a.circle || 9) - (b.circle || 9) || a.title.localeCompare(b.title))) {
      const option = document.createElement("option");
      option.value = t.slug;
      option.textContent = t.title;
      picker.append(option);
    }
    picker.addEventListener("change", () => startTour(picker.value, 0, true));
    tourBar.addEventListener("click", (e) => {
      const go = e.target.closest("[data-step]");
      if (!go) return;
      if (go.dataset.step === "exit") return startTour("", 0, true);
      startTour(state.tour, state.step + Number(go.dataset.step), true);
    });
  }
  function startTour(slug, step, push) {
    const tour = G.tours.find((t) => t.slug === slug);
    $("tour-select").value = tour ? slug : "";
    if (!tour || !tour.steps.length) {
      state.tour = ""; state.step = 0; tourBar.hidden = true;
      if (push) writeUrl(true);
      return;
    }
    state.tour = slug;
    state.step = Math.max(0, Math.min(step, tour.steps.length - 1));
    const current = tour.steps[state.step];
    tourBar.hidden = false;
    tourBar.innerHTML = `<p><strong></strong> — step ${state.step + 1} of ${tour.steps.length}</p><p class="tour-note">${current.note}</p>
      <div class="tour-nav"><button type="button" data-step="-1"${state.step ? "" : " disabled"}>← Previous</button>
      <button type="button" data-step="1"${state.step < tour.steps.length - 1 ? "" : " disabled"}>Next →</button>
      <button type="button" class="link-button" data-step="exit">End tour</button></div>`;
    tourBar.querySelector("strong").textContent = tour.title;
    ensureShown(current.node);
    select(current.node, { push: false });
    if (push) writeUrl(true);
    const next = tourBar.querySelector('[data-step="1"]:not([disabled])') || tourBar.querySelector('[data-step="-1"]');
    if (push && next) next.focus({ preventScroll: true });
  }

  // --- URL state ------------------------------------------------------------------------------------
  function writeUrl(push) {
    const p = new URLSearchParams();
    if (state.node) p.set("node", state.node);
    if (state.kinds.size) p.set("kinds", [...state.kinds].join(","));
    if (state.edges.size) p.set("edges", [...state.edges].join(","));
    if (state.facet) p.set("facet", state.facet);
    if (state.tour) { p.set("tour", state.tour); p.set("step", String(state.step + 1)); }
    const url = p.toString() ? `?${p}` : window.location.pathname;
    if (url === window.location.search) return;
    history[push ? "pushState" : "replaceState"](null, "", url);
  }
  function readUrl() {
    const p = new URLSearchParams(window.location.search);
    const list = (k) => new Set((p.get(k) || "").split(",").filter(Boolean));
    state.kinds = list("kinds");
    state.edges = list("edges");
    state.facet = p.get("facet") || "";
    applyFilters();
    const tour = p.get("tour") || "";
    if (tour) return startTour(tour, Number(p.get("step") || 1) - 1, false);
    startTour("", 0, false);
    const q = (p.get("q") || "").toLowerCase();
    const id = p.get("node") || (q && (G.nodes.find((n) => n.title.toLowerCase() === q || n.id === q) || {}).id);
    if (id && byId.has(id)) return select(id, { push: false });
    state.node = "";
    svg.querySelectorAll(".node.selected").forEach((x) => x.classList.remove("selected"));
    cardBody.innerHTML = intro;
    delete app.dataset.selected;
    restoreHighlight();
    scheduleDetail();
  }

  // --- Legend ---------------------------------------------------------------------------------------
  function legend() {
    const box = $("legend");
    const add = (html) => { const s = document.createElement("span"); s.innerHTML = html; box.append(s); return s; };
    for (const f of (G.graph.regions || []).map((r) => r.family)) {
      const s = add(`<svg viewBox="-9 -9 18 18" class="fam fam-${f}" aria-hidden="true"><path d="${shape("family", 7)}" style="fill:var(--fam-fill);stroke:var(--fam);stroke-width:2"/></svg>`);
      s.append(title(f));
    }
    for (const [kind, label] of Object.entries(G.kinds)) {
      if (!G.nodes.some((n) => n.kind === kind)) continue;
      add(`<svg viewBox="-10 -10 20 20" aria-hidden="true"><path d="${shape(kind, 7)}" style="fill:var(--none-fill);stroke:var(--fg)"/></svg>`).append(label);
    }
    document.querySelectorAll("path[data-shape]").forEach((p) => p.setAttribute("d", shape(p.dataset.shape, 7)));
  }

  // --- Start ----------------------------------------------------------------------------------------
  window.atlas.loadGraph().then((graph) => {
    G = graph;
    draw();
    legend();
    intro = cardBody.innerHTML;
    wirePanZoom();
    wireHover();
    wireCard();
    wireFilters();
    wireTours();
    $("map-tools").hidden = false;
    readUrl();
    if (state.kinds.size || state.edges.size) $("map-filters").open = true;
    $("card-close").addEventListener("click", () => {
      state.node = "";
      writeUrl(true);
      readUrl();
    });
    window.addEventListener("popstate", readUrl);
    updateDetail();
    app.dataset.ready = "true";
    performance.mark("atlas:map-ready");
  }).catch((error) => {
    canvas.textContent = `The map could not be loaded (${error.message}); every node is listed below.`;
  });
})();

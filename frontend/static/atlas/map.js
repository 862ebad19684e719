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
  const MID = new Set(["lens", "unification", "failure-mode", "pipeline", "open-problem"]);
  const ARROWS = new Set(["lineage", "variant_of"]);
  const state = { node: "", kinds: new Set(), edges: new Set(), facet: "", tour: "", step: 0 };
  let G = null;
  let byId = new Map();
  let svg = null;
  let home = null;
  let view = null;
  const shown = new Set();
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
  function draw() {
    svg = el("svg", { class: "map-svg", role: "group", "aria-label": `Map of ${G.nodes.length} nodes; arrow keys move between nodes, Enter opens one` });
    const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" }, el("defs", {}, svg));
    el("path", { d: "M0,0L10,5L0,10Z", class: "arrow" }, marker);
    const edges = el("g", { class: "edges" }, svg);
    const nodes = el("g", { class: "nodes" }, svg);
    for (const n of G.nodes) {
      n.links = [];
      byId.set(n.id, n);
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
      const fam = n.families[0] || "none";
      const level = n.kind === "family" ? "" : MID.has(n.kind) ? "mid" : "minor";
      n.el = el("a", { href: `/node/${n.id}/`, class: `node k-${n.kind} fam fam-${fam}`, tabindex: -1, "aria-label": `${n.title} (${n.kind})`, transform: `translate(${n.x},${n.y})` }, nodes);
      n.el.__node = n;
      el("path", { class: "shape", d: shape(n.kind) }, n.el);
      const label = el("text", { x: (SIZE[n.kind] || 7) + 4, y: 4, class: level }, n.el);
      label.textContent = n.title.length > 42 ? n.title.slice(0, 40) + "…" : n.title;
    }
    const first = byId.get("diffusion") || G.nodes[0];
    if (first) first.el.setAttribute("tabindex", 0);
    canvas.append(svg);
    home = bounds();
    setView({ ...home });
  }

  function bounds() {
    if (!G.nodes.length) return { x: 0, y: 0, w: G.graph.width, h: G.graph.height };
    const xs = G.nodes.map((n) => n.x), ys = G.nodes.map((n) => n.y), pad = 40;
    const x = Math.min(...xs) - pad, y = Math.min(...ys) - pad;
    return { x, y, w: Math.max(...xs) + 4 * pad - x, h: Math.max(...ys) + pad - y };
  }

  function trim(a, b) {
    const dx = b.x - a.x, dy = b.y - a.y, d = Math.hypot(dx, dy) || 1;
    const r = (SIZE[b.kind] || 7) + 3;
    return [(b.x - (dx / d) * r).toFixed(1), (b.y - (dy / d) * r).toFixed(1)];
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
    svg.classList.toggle("mid", ratio < 0.75);
    svg.classList.toggle("zoomed", ratio < 0.42);
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
  function centerOn(n) {
    const w = Math.min(view.w, home.w * 0.6);
    const h = (w * view.h) / view.w;
    setView({ x: n.x - w / 2, y: n.y - h / 2, w, h });
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
    const visible = n.links.filter((l) => !l.el.classList.contains("hidden"));
    for (const l of visible) {
      l.el.classList.add("hl");
      byId.get(l.source === n.id ? l.target : l.source).el.classList.add("hl");
    }
    const lines = visible.slice(0, 4).map(edgeText);
    const more = visible.length > 4 ? ` … and ${visible.length - 4} more (see the card)` : "";
    explain.textContent = visible.length ? `${n.title}: ${lines.join(" · ")}${more}` : `${n.title}: no visible edges`;
  }
  function clearHighlight() {
    svg.classList.remove("focus-mode");
    svg.querySelectorAll(".hl").forEach((x) => x.classList.remove("hl"));
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
      if (n === from || !shown.has(n.id)) continue;
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
    const response = await fetch(`/node/${encodeURIComponent(id)}/card/`, { credentials: "same-origin" });
    if (ticket !== cardRequest) return;
    cardBody.innerHTML = response.ok ? await response.text() : `<p class="error">Could not load ${n.title}.</p>`;
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
      parts.push(`facet “${tag}” of ${G.lenses[lens] || lens}: ${[...families].map(title).join(", ") || "no family"}`);
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
    restoreHighlight();
  }

  // --- Legend ---------------------------------------------------------------------------------------
  function legend() {
    const box = $("legend");
    const add = (html) => { const s = document.createElement("span"); s.innerHTML = html; box.append(s); return s; };
    for (const f of ["vae", "gan", "diffusion", "flow", "ebm", "autoregressive"]) {
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
    if (window.matchMedia("(max-width: 600px)").matches && !state.kinds.size && !state.edges.size) $("map-filters").open = false;
    window.addEventListener("popstate", readUrl);
    app.dataset.ready = "true";
  }).catch((error) => {
    canvas.textContent = `The map could not be loaded (${error.message}); every node is listed below.`;
  });
})();

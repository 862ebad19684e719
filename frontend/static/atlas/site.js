// Every page: the `/` search shortcut and the header search box (an ARIA combobox over all nodes).
// On the map page a pick is handed to map.js ("atlas:jump"); elsewhere it opens the map at the node.
(() => {
  "use strict";
  const atlas = (window.atlas = window.atlas || {});
  let graphPromise = null;
  atlas.loadGraph = () => {
    graphPromise = graphPromise || fetch(document.body.dataset.graphUrl, { credentials: "same-origin" }).then((r) => {
      if (!r.ok) throw new Error(`graph.json: HTTP ${r.status}`);
      return r.json();
    });
    return graphPromise;
  };

  // The main navigation collapses into a menu on narrow screens (CSS); the button opens it.
  const menu = document.getElementById("menu-button");
  if (menu) {
    menu.addEventListener("click", () => {
      const open = menu.getAttribute("aria-expanded") !== "true";
      menu.setAttribute("aria-expanded", String(open));
      document.body.classList.toggle("nav-open", open);
    });
  }

  const input = document.getElementById("site-search");
  const list = document.getElementById("site-search-results");
  const status = document.getElementById("site-search-status");
  if (!input || !list || !status) return;
  let nodes = [];
  let options = [];
  let active = -1;

  const typing = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && !e.ctrlKey && !e.metaKey && !e.altKey && !typing(document.activeElement)) {
      e.preventDefault();
      input.focus();
      input.select();
    }
  });

  function score(node, q) {
    const title = node.title.toLowerCase();
    if (title === q || node.id === q) return 0;
    if (title.startsWith(q) || node.id.startsWith(q)) return 1;
    if (title.includes(" " + q) || (node.aliases || []).some((a) => a.toLowerCase().startsWith(q))) return 2;
    if (title.includes(q) || node.id.includes(q)) return 3;
    if ((node.aliases || []).some((a) => a.toLowerCase().includes(q))) return 4;
    return node.summary.toLowerCase().includes(q) ? 5 : -1;
  }

  function matches(q) {
    return nodes
      .map((n) => [score(n, q), n])
      .filter(([s]) => s >= 0)
      .sort((a, b) => a[0] - b[0] || a[1].title.localeCompare(b[1].title))
      .slice(0, 12)
      .map(([, n]) => n);
  }

  function render(found) {
    options = found;
    active = found.length ? 0 : -1;
    list.replaceChildren(
      ...found.map((n, i) => {
        const li = document.createElement("li");
        li.id = `search-opt-${i}`;
        li.setAttribute("role", "option");
        li.dataset.slug = n.id;
        li.append(n.title);
        const kind = document.createElement("small");
        kind.textContent = n.kind;
        li.append(kind);
        return li;
      }),
    );
    list.hidden = !found.length;
    input.setAttribute("aria-expanded", String(!list.hidden));
    status.textContent = found.length ? "" : `No node matches “${input.value.trim()}”. Try a shorter word or an abbreviation.`;
    mark();
  }

  function mark() {
    [...list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
    if (active >= 0) {
      input.setAttribute("aria-activedescendant", `search-opt-${active}`);
      list.children[active].scrollIntoView({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  }

  function close() {
    list.hidden = true;
    status.textContent = "";
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  // Enter or a click opens the node's page; on the map, Alt+Enter shows it on the map instead.
  function pick(slug, onMap = false) {
    close();
    if (onMap && document.body.classList.contains("page-map")) {
      input.value = "";
      document.dispatchEvent(new CustomEvent("atlas:jump", { detail: { slug, focus: true } }));
    } else window.location.assign(document.body.dataset.nodeUrl.replace("__slug__", encodeURIComponent(slug)));
  }

  input.addEventListener("focus", () => {
    atlas.loadGraph().then((g) => { nodes = g.nodes; }).catch(() => {});
  });
  input.addEventListener("input", () => {
    const q = input.value.trim().toLowerCase();
    atlas.loadGraph().then((g) => {
      nodes = g.nodes;
      if (q) render(matches(q)); else close();
    });
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (!options.length) return;
      e.preventDefault();
      if (list.hidden) { list.hidden = false; input.setAttribute("aria-expanded", "true"); }
      active = (active + (e.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
      mark();
    } else if (e.key === "Enter" && !list.hidden && active >= 0) {
      e.preventDefault();
      pick(options[active].id, e.altKey);
    } else if (e.key === "Escape") {
      if (!list.hidden) close(); else input.value = "";
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
  list.addEventListener("mousedown", (e) => e.preventDefault());
  list.addEventListener("click", (e) => {
    const li = e.target.closest("[role=option]");
    if (li) pick(li.dataset.slug);
  });
})();

// The run panel: POST a run, follow it over its websocket, draw progress, loss and samples live.
"use strict";
(() => {
  const TERMINAL = new Set(["succeeded", "failed", "cancelled", "timed_out"]);
  const ACCENT = { vae: "#2e7d32", gan: "#c62828", diffusion: "#3949ab", flow: "#8e24aa", ebm: "#0277bd", autoregressive: "#ef6c00" };

  function csrfToken() {
    const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function readConfig(form) {
    const config = {};
    for (const input of form.querySelectorAll("[name]")) {
      const kind = input.dataset.kind;
      if (kind === "bool") config[input.name] = input.checked;
      else if (kind === "int" || kind === "float") config[input.name] = input.value === "" ? null : Number(input.value);
      else config[input.name] = input.value;
    }
    return config;
  }

  function showErrors(panel, errors) {
    panel.querySelectorAll(".field-error").forEach((el) => (el.textContent = ""));
    const general = [];
    for (const [key, messages] of Object.entries(errors || {})) {
      const name = key.startsWith("config.") ? key.slice(7) : key;
      const field = panel.querySelector(`[name="${CSS.escape(name)}"]`);
      const text = Array.isArray(messages) ? messages.join(" ") : String(messages);
      if (field && key !== "config") field.closest("label").querySelector(".field-error").textContent = text;
      else if (key !== "config") general.push(`${key}: ${text}`);
    }
    panel.querySelector(".form-error").textContent = general.join(" ");
  }

  async function startRun(panel) {
    const form = panel.querySelector("form");
    showErrors(panel, {});
    const response = await fetch("/api/runs/", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ recipe: panel.dataset.recipe, config: readConfig(form) }),
    });
    const body = await response.json().catch(() => ({}));
    if (response.status === 400) return showErrors(panel, body);
    if (response.status === 429 || response.status === 503) {
      const wait = response.headers.get("Retry-After");
      panel.querySelector(".form-error").textContent = `${body.detail || "Busy."} Retry in ${wait || "a few"} s.`;
      return;
    }
    if (!response.ok) {
      panel.querySelector(".form-error").textContent = `The server answered ${response.status}.`;
      return;
    }
    follow(panel, body);
  }

  function follow(panel, run) {
    const live = panel.querySelector(".run-live");
    live.hidden = false;
    const state = { run, losses: [], density: null, panel };
    panel.runState = state;
    render(state, { type: "snapshot", run });
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/runs/${run.id}/`);
    socket.onmessage = (event) => render(state, JSON.parse(event.data));
    socket.onclose = () => {
      if (!TERMINAL.has(state.run.status)) setTimeout(() => refresh(state), 1000);
    };
    const cancel = panel.querySelector(".cancel-button");
    cancel.hidden = TERMINAL.has(run.status);
    cancel.onclick = () => fetch(`/api/runs/${run.id}/cancel/`, { method: "POST", headers: { "X-CSRFToken": csrfToken() } });
  }

  async function refresh(state) {
    const response = await fetch(`/api/runs/${state.run.id}/`);
    if (response.ok) render(state, { type: "snapshot", run: await response.json() });
  }

  function render(state, message) {
    const panel = state.panel;
    switch (message.type) {
      case "snapshot":
        state.run = message.run;
        if (message.run.preview && message.run.preview.density) state.density = message.run.preview.density;
        setStatus(panel, message.run.status, message.run.status_reason);
        if (message.run.progress && message.run.progress.step) progress(state, message.run.progress);
        if (message.run.preview && message.run.preview.kind) preview(state, message.run.preview);
        if (TERMINAL.has(message.run.status)) finish(state, message.run);
        break;
      case "density":
        state.density = message;
        break;
      case "status":
        state.run.status = message.status;
        setStatus(panel, message.status, message.reason || "");
        if (TERMINAL.has(message.status)) refresh(state);
        break;
      case "progress":
        progress(state, message);
        break;
      case "preview":
        preview(state, message);
        break;
    }
  }

  function setStatus(panel, status, reason) {
    const badge = panel.querySelector(".badge");
    badge.textContent = status.replace("_", " ");
    badge.dataset.status = status;
    panel.querySelector(".run-reason").textContent = reason || "";
    panel.querySelector(".cancel-button").hidden = TERMINAL.has(status);
  }

  function progress(state, p) {
    const panel = state.panel;
    const bar = panel.querySelector(".run-progress");
    bar.max = p.total || 1;
    bar.value = p.step || 0;
    const eta = p.eta_s == null ? "" : ` · about ${Math.ceil(p.eta_s)} s left`;
    panel.querySelector(".run-rate").textContent = `step ${p.step} / ${p.total} · ${p.steps_per_s} steps/s${eta}`;
    if (p.losses && typeof p.losses.loss === "number") {
      state.losses.push([p.step, p.losses.loss]);
      drawLoss(panel.querySelector(".run-loss"), state.losses, ACCENT[panel.dataset.family]);
    }
  }

  function drawLoss(svg, points, colour) {
    if (points.length < 2) return;
    const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const sx = (x) => 30 + (280 * (x - x0)) / Math.max(x1 - x0, 1e-9);
    const sy = (y) => 185 - (170 * (y - y0)) / Math.max(y1 - y0, 1e-9);
    const path = points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ");
    svg.innerHTML =
      `<polyline fill="none" stroke="${colour || "currentColor"}" stroke-width="1.5" points="${path}"/>` +
      `<text x="2" y="14" font-size="10" fill="currentColor">${y1.toPrecision(3)}</text>` +
      `<text x="2" y="195" font-size="10" fill="currentColor">${y0.toPrecision(3)}</text>`;
  }

  function preview(state, p) {
    const panel = state.panel;
    const canvas = panel.querySelector(".run-preview");
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    panel.querySelector(".preview-step").textContent = p.step ? `(step ${p.step})` : "";
    if (p.kind === "points2d") drawPoints(ctx, canvas, p, state.density, ACCENT[panel.dataset.family]);
    else if (p.kind === "image") drawImages(ctx, canvas, p);
    else if (p.kind === "tokens") drawTexts(ctx, canvas, p.texts || []);
  }

  function drawPoints(ctx, canvas, p, density, colour) {
    const [lo, hi] = p.bounds;
    const scale = canvas.width / (hi - lo);
    if (density) {
      const cell = canvas.width / density.n;
      density.values.forEach((row, j) =>
        row.forEach((v, i) => {
          if (v < 0.01) return;
          ctx.fillStyle = `rgba(120, 144, 156, ${Math.min(0.6, v * 0.6)})`;
          ctx.fillRect(i * cell, canvas.height - (j + 1) * cell, cell + 0.5, cell + 0.5);
        }),
      );
    }
    ctx.fillStyle = colour || "#333";
    for (const [x, y] of p.points) {
      ctx.fillRect((x - lo) * scale - 1, canvas.height - (y - lo) * scale - 1, 2, 2);
    }
  }

  function drawImages(ctx, canvas, p) {
    const [, h, w] = p.shape;
    const per = Math.ceil(Math.sqrt(p.images.length));
    const size = Math.floor(canvas.width / per);
    const px = size / Math.max(h, w);
    p.images.forEach((img, k) => {
      const ox = (k % per) * size, oy = Math.floor(k / per) * size;
      img.forEach((v, idx) => {
        const shade = 255 - Math.round((255 * v) / (p.levels - 1));
        ctx.fillStyle = `rgb(${shade},${shade},${shade})`;
        ctx.fillRect(ox + (idx % w) * px, oy + Math.floor(idx / w) * px, px, px);
      });
    });
  }

  function drawTexts(ctx, canvas, texts) {
    ctx.fillStyle = getComputedStyle(canvas).color;
    ctx.font = "11px ui-monospace, monospace";
    texts.forEach((t, i) => ctx.fillText(t.slice(0, 48).replace(/\n/g, "⏎"), 4, 16 + i * 18));
  }

  function finish(state, run) {
    const box = state.panel.querySelector(".run-result");
    if (!run.metrics || !Object.keys(run.metrics).length) {
      box.textContent = run.status === "succeeded" ? "" : run.status_reason || "";
      return;
    }
    const rows = flatten(run.metrics).map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${esc(v)}</td></tr>`);
    const lik = run.metrics.likelihood || {};
    const label = lik.kind ? `<p>Likelihood: <strong>${esc(lik.kind === "unavailable" ? "none" : lik.kind)}</strong></p>` : "";
    const links = Object.entries(run.artifacts || {})
      .map(([k, url]) => `<a href="${esc(url)}">${esc(k.replace("_", "."))}</a>`)
      .join(" · ");
    const png = run.artifacts && run.artifacts.samples_png;
    box.innerHTML =
      `<div class="run-final">${png ? `<img src="${esc(png)}" alt="final samples of this run" width="320">` : ""}` +
      `<div>${label}<table class="metrics"><tbody>${rows.join("")}</tbody></table>` +
      `<p class="muted">${esc(run.result.steps)} steps in ${esc(run.result.wall_time_s)} s on ${esc(run.result.device)} · NFE ${esc(run.result.nfe)} · ${esc(run.result.parameters)} parameters · code ${esc(run.code_version)}</p>` +
      `<p>${links} · <a href="/api/runs/${esc(run.id)}/">JSON</a></p></div></div>`;
  }

  // Metric keys whose meaning the raw name hides.
  const LABELS = { "likelihood.value": "test NLL", "kl_data_model.value": "KL(data ‖ model)" };

  function flatten(obj, prefix = "") {
    const out = [];
    for (const [k, v] of Object.entries(obj)) {
      const path = prefix ? `${prefix}.${k}` : k;
      const key = LABELS[path] || path;
      if (v && typeof v === "object" && !Array.isArray(v)) out.push(...flatten(v, path));
      else if (typeof v === "number") out.push([key, Number.isInteger(v) ? v : v.toPrecision(4)]);
      else if (v !== null && !Array.isArray(v)) out.push([key, String(v)]);
    }
    return out;
  }

  function esc(value) {
    return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  // The script may be included by several panels on one page: bind each form once.
  for (const panel of document.querySelectorAll(".run-panel:not([data-bound])")) {
    panel.dataset.bound = "1";
    panel.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      startRun(panel).catch((err) => (panel.querySelector(".form-error").textContent = String(err)));
    });
  }
})();

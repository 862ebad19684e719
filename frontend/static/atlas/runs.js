// The run panel: POST a run, follow it over its websocket, draw progress, loss and samples live.
"use strict";
(() => {
  const TERMINAL = new Set(["succeeded", "failed", "cancelled", "timed_out"]);
  // The family's accent colour, from the CSS custom properties (atlas/graph/families.py).
  const accent = (panel) => getComputedStyle(panel).getPropertyValue("--fam").trim() || "currentColor";
  const PHASES = {
    training: "training",
    scoring: "scoring: the trained model's samples are shown; computing the metrics",
    sampling: "sampling the final figure",
  };

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
    const response = await fetch(panel.dataset.runsUrl, {
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
    const state = { run, losses: [], quality: [], density: null, panel };
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
    cancel.onclick = () => fetch(`${runUrl(panel, run.id)}cancel/`, { method: "POST", headers: { "X-CSRFToken": csrfToken() } });
  }

  async function refresh(state) {
    const response = await fetch(runUrl(state.panel, state.run.id));
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
        if (message.run.progress && message.run.progress.quality) {
          state.quality = message.run.progress.quality;
          qualityTable(state);
        }
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
      case "quality":
        state.quality.push(message);
        qualityTable(state);
        break;
    }
  }

  const runUrl = (panel, id) => `${panel.dataset.runsUrl}${encodeURIComponent(id)}/`;

  function setStatus(panel, status, reason) {
    const badge = panel.querySelector(".badge");
    badge.textContent = status.replace("_", " ");
    badge.dataset.status = status;
    if (status !== "running") panel.querySelector(".run-phase").textContent = "";
    panel.querySelector(".run-reason").textContent = reason || "";
    panel.querySelector(".cancel-button").hidden = TERMINAL.has(status);
  }

  function progress(state, p) {
    const panel = state.panel;
    const bar = panel.querySelector(".run-progress");
    bar.max = p.total || 1;
    bar.value = p.step || 0;
    const phase = p.phase || "training";
    if (!TERMINAL.has(state.run.status)) panel.querySelector(".run-phase").textContent = PHASES[phase] || phase;
    const eta = phase === "training" && p.eta_s != null ? ` · about ${Math.max(1, Math.ceil(p.eta_s))} s left` : "";
    const rate = p.steps_per_s ? ` · ${p.steps_per_s} steps/s` : "";
    panel.querySelector(".run-rate").textContent = `step ${p.step} of ${p.total}${rate}${eta}`;
    if (phase === "training" && p.losses && typeof p.losses.loss === "number") {
      state.losses.push([p.step, p.losses.loss]);
      drawLoss(panel.querySelector(".run-loss"), state.losses, p.total, accent(panel));
    }
  }

  // The loss against the step, with labelled axes and three ticks on each (0 … total steps).
  function drawLoss(svg, points, total, colour) {
    if (points.length < 2) return;
    const ys = points.map((p) => p[1]);
    let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
    const x1 = Math.max(total || 0, points[points.length - 1][0], 1);
    const L = 48, R = 312, T = 10, B = 160;
    const sx = (x) => L + ((R - L) * x) / x1;
    const sy = (y) => B - ((B - T) * (y - y0)) / (y1 - y0);
    const fmt = (v) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : Number(v.toPrecision(3)).toString());
    const line = points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ");
    const yTicks = [y0, (y0 + y1) / 2, y1].map((v) => `<line x1="${L - 4}" x2="${L}" y1="${sy(v)}" y2="${sy(v)}" stroke="currentColor"/><text x="${L - 6}" y="${sy(v) + 3.5}" text-anchor="end">${fmt(v)}</text>`);
    const xTicks = [0, x1 / 2, x1].map((v, i) => `<line x1="${sx(v)}" x2="${sx(v)}" y1="${B}" y2="${B + 4}" stroke="currentColor"/><text x="${sx(v)}" y="${B + 15}" text-anchor="${["start", "middle", "end"][i]}">${Math.round(v)}</text>`);
    svg.innerHTML =
      `<g class="axes" font-size="10" fill="currentColor"><line x1="${L}" y1="${T}" x2="${L}" y2="${B}" stroke="currentColor"/>` +
      `<line x1="${L}" y1="${B}" x2="${R}" y2="${B}" stroke="currentColor"/>${yTicks.join("")}${xTicks.join("")}` +
      `<text x="${(L + R) / 2}" y="${B + 32}" text-anchor="middle">training step</text>` +
      `<text transform="translate(11 ${(T + B) / 2}) rotate(-90)" text-anchor="middle">loss</text></g>` +
      `<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${line}"/>`;
  }

  function preview(state, p) {
    const panel = state.panel;
    const canvas = panel.querySelector(".run-preview");
    if (!canvas) return; // the run has finished: its final samples replaced the live preview
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    panel.querySelector(".preview-step").textContent = p.step ? `(step ${p.step})` : "";
    const texts = panel.querySelector(".run-texts");
    canvas.hidden = p.kind === "tokens";
    texts.hidden = p.kind !== "tokens";
    if (p.kind === "points2d") drawPoints(ctx, canvas, p, state.density, accent(panel));
    else if (p.kind === "image") drawImages(ctx, canvas, p);
    else if (p.kind === "tokens") showTexts(texts, p.texts || []);
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

  // Text samples as wrapped text (never clipped sideways), one list item each.
  function showTexts(list, texts) {
    list.replaceChildren(...texts.map((t) => { const li = document.createElement("li"); li.textContent = t; return li; }));
  }

  // A finished run: the final samples replace the live preview, then the metrics a person reads
  // (a short table grouped by what they say, with units, a one-line meaning each and the quality
  // bar's verdict in words); every other number is in the raw JSON, one click away.
  // The stopping rule's checks (compute.stopping.QualityStop): how quality evolved, check by check;
  // the demo ends once the verdict-grade bar holds at two checks in a row (or after its seconds).
  function qualityTable(state) {
    const box = state.panel.querySelector(".run-quality");
    const checks = state.quality;
    if (!checks.length) return;
    const table = headedTable(
      "quality-checks",
      "Quality at each check (a demo stops once the bar holds twice in a row, or when its demo time is up)",
      ["Step", "Training s", "Modes held", "High-quality", "Weight TV", "Spread", "Bar"],
    );
    const body = document.createElement("tbody");
    for (const c of checks.slice(-8)) {
      const tr = document.createElement("tr");
      tr.append(
        cell("td", String(c.step)),
        cell("td", c.train_s.toFixed(1)),
        cell("td", `${c.modes_counted} of ${c.num_modes}`),
        cell("td", `${(100 * c.hq_fraction).toFixed(1)} %`),
        cell("td", fmt(c.hq_mode_tv)),
        cell("td", fmt(c.spread_ratio)),
        cell("td", c.meets ? "met" : c.diagnosis),
      );
      body.append(tr);
    }
    table.append(body);
    box.replaceChildren(scrollable(table));
    box.hidden = false;
  }

  function finish(state, run) {
    const panel = state.panel;
    const box = panel.querySelector(".run-result");
    const steps = run.result && run.result.steps;
    if (steps) panel.querySelector(".preview-step").textContent = `(final, step ${steps})`;
    const png = run.artifacts && run.artifacts.samples_png;
    const canvas = panel.querySelector(".run-preview");
    if (png && canvas) {  // finish may run twice (the final snapshot and a refresh): replace once
      const img = document.createElement("img");
      img.src = png;
      img.alt = `final samples of this run, after ${steps || "all"} steps`;
      img.className = "run-final-samples";
      canvas.replaceWith(img);
    }
    if (!run.metrics || !Object.keys(run.metrics).length) {
      box.textContent = run.status === "succeeded" ? "" : run.status_reason || "";
      return;
    }
    box.replaceChildren(metricsTable(run), verdict(run.metrics), links(run, panel));
  }

  // name, unit, meaning, how to read it; `kind` rows show the likelihood's own label.
  const CATALOGUE = [
    ["quality", "judgement.modes_counted", "Modes held", "", "modes holding at least half of their expected share of close samples (the verdict's count)", (v, m) => `${v} of ${m.num_modes}`],
    ["quality", "modes_captured", "Modes touched", "", "modes with at least one close sample (the PacGAN/VEEGAN count of the literature)", (v, m) => `${v} of ${m.num_modes}`],
    ["quality", "hq_fraction", "High-quality samples", "%", "share of samples close to some mode (higher is better)", (v) => (100 * v).toFixed(1)],
    ["quality", "mode_weight_tv", "Mode-weight TV", "", "distance between the samples' share per mode and the true weights (0 is perfect)"],
    ["quality", "spread_ratio", "Spread ratio", "", "spread of samples around their mode over the true spread (1 is perfect)"],
    ["quality", "mmd2", "MMD²", "", "kernel two-sample distance to fresh data (0 when the distributions match)"],
    ["quality", "prdc.precision", "Precision", "", "share of samples that look like data (fidelity)"],
    ["quality", "prdc.recall", "Recall", "", "share of data the samples reach (diversity)"],
    ["quality", "prdc.coverage", "Coverage", "", "share of data neighbourhoods holding at least one sample"],
    ["quality", "frechet_distance", "Fréchet distance", "", "distance between feature statistics of samples and data (lower is better)", (v, m) => `${fmt(v)} (floor ${fmt(m.frechet_distance_test_vs_train)})`],
    ["quality", "kid", "KID", "", "kernel distance between features of samples and data (0 when they match)"],
    ["quality", "classes_covered", "Classes covered", "%", "share of digit classes a classifier finds among the samples", (v) => (100 * v).toFixed(0)],
    ["quality", "class_tv", "Class balance TV", "", "distance of the predicted-class histogram from uniform (0 is balanced)"],
    ["quality", "unigram_tv", "Character TV", "", "distance between character frequencies of samples and corpus (0 is perfect)"],
    ["quality", "non_finite_fraction", "Non-finite samples", "%", "samples that came out as NaN or infinity", (v) => (100 * v).toFixed(1)],
    ["likelihood", "likelihood.value", "Test NLL", "", "negative log-likelihood of held-out data (lower is better)"],
    ["likelihood", "kl_data_model.value", "KL(data ‖ model)", "nats", "test NLL minus the data's own entropy: 0 for a perfect model"],
    ["cost", "result.steps", "Training steps", "", "steps taken before the run stopped"],
    ["cost", "result.wall_time_s", "Wall time", "s", "training, sampling and scoring together"],
    ["cost", "sample_s_per_1000", "Sampling time", "s / 1000 samples", "how long 1000 samples take on this machine"],
    ["cost", "result.nfe", "Network evaluations", "per sample", "forward passes of the network to draw one sample"],
    ["cost", "result.parameters", "Parameters", "", "size of the trained network"],
  ];
  const GROUPS = { quality: "Sample quality", likelihood: "Likelihood", cost: "Cost" };
  const LIKELIHOOD = {
    exact: "exact",
    bound: "bound",
    "mc-bound": "Monte-Carlo estimate of a bound",
    upper_bound: "upper bound",
    estimate: "estimate",
    unavailable: "none",
  };

  function lookup(run, path) {
    const [head, ...rest] = path.split(".");
    let value = head === "result" ? run.result : run.metrics[head];
    for (const key of rest) value = value == null ? undefined : value[key];
    return value;
  }
  function fmt(v) {
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v)) return v.toLocaleString("en");
    return Math.abs(v) >= 1000 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(2) : Number(v.toPrecision(3)).toString();
  }
  function cell(tag, text, className) {
    const c = document.createElement(tag);
    c.textContent = text;
    if (className) c.className = className;
    return c;
  }

  function metricsTable(run) {
    const table = headedTable("metrics", "What the finished run measured", ["Metric", "Value", "What it says"]);
    for (const [group, title] of Object.entries(GROUPS)) {
      const rows = CATALOGUE.filter((m) => m[0] === group && lookup(run, m[1]) != null);
      const lik = run.metrics.likelihood;
      if (group === "likelihood" && lik && lik.value == null) rows.unshift(null); // "none" row
      if (!rows.length) continue;
      const body = document.createElement("tbody");
      const gr = document.createElement("tr");
      const gh = cell("th", title, "metric-group");
      gh.colSpan = 3;
      gh.scope = "colgroup";
      gr.append(gh);
      body.append(gr);
      for (const m of rows) {
        const tr = document.createElement("tr");
        if (m === null) {
          const th = cell("th", "Test NLL"); th.scope = "row";
          tr.append(th, cell("td", "none"), cell("td", lik.note || "this model gives no likelihood"));
          body.append(tr);
          continue;
        }
        const [, path, name, unit, meaning, show] = m;
        const value = lookup(run, path);
        let text = show ? show(value, run.metrics) : fmt(value);
        let note = meaning;
        if (path === "likelihood.value") {
          text = `${fmt(value)} ${lik.unit || ""}`.trim();
          note = `${meaning}; ${LIKELIHOOD[lik.kind] || lik.kind}`;
        } else if (path === "kl_data_model.value") {
          const kl = run.metrics.kl_data_model;
          text = `${fmt(value)} ${unit}`;
          note = `${meaning}; ${LIKELIHOOD[kl.kind] || kl.kind}${kl.note ? ` (${kl.note})` : ""}`;
        } else if (unit) text = `${text} ${unit}`;
        const th = cell("th", name); th.scope = "row";
        tr.append(th, cell("td", text), cell("td", note, "muted"));
        body.append(tr);
      }
      table.append(body);
    }
    return scrollable(table);
  }

  // A table with its caption and one header row of column headings.
  function headedTable(className, caption, headings) {
    const table = document.createElement("table");
    table.className = className;
    table.append(cell("caption", caption));
    const row = document.createElement("tr");
    for (const h of headings) {
      const th = cell("th", h);
      th.scope = "col";
      row.append(th);
    }
    const head = document.createElement("thead");
    head.append(row);
    table.append(head);
    return table;
  }

  // Wide tables scroll inside their own box on phones.
  function scrollable(table) {
    const wrap = document.createElement("div");
    wrap.className = "table-wrap metrics-wrap";
    wrap.append(table);
    return wrap;
  }

  // The verdict-grade bar of the 2-D mixtures (compute.metrics.judge_2d), in words: what the
  // worker judged, and the first check it failed.
  const DIAGNOSES = {
    divergence: "the samples left the data's box",
    noise: "no structure at the modes (like uniform noise)",
    collapse: "some modes hold too little of their mass (collapse)",
    blurred: "the modes are too wide (blurred)",
    sharpened: "the modes are too narrow",
    outliers: "too few samples close to a mode",
    misweighted: "the modes' weights are off",
  };
  function verdict(m) {
    const p = document.createElement("p");
    p.className = "run-verdict";
    const j = m.judgement;
    if (!j || typeof j.meets !== "boolean") return p;
    p.dataset.meets = String(j.meets);
    p.textContent = j.meets
      ? `Meets the quality bar: every mode holds at least half of its share, ${(100 * j.hq_fraction).toFixed(1)} % of samples within 3 std of a mode, mode weights within TV 0.10 and spread within 0.8 to 1.25.`
      : `Misses the quality bar: ${DIAGNOSES[j.diagnosis] || j.diagnosis} (${j.reason}).`;
    return p;
  }

  function links(run, panel) {
    const p = document.createElement("p");
    p.className = "run-links muted";
    const r = run.result || {};
    p.append(`${fmt(r.steps)} steps in ${fmt(r.wall_time_s)} s on ${r.device || "?"} · code ${run.code_version} · `);
    const add = (href, text) => { const a = document.createElement("a"); a.href = href; a.textContent = text; p.append(a, " · "); };
    const names = { samples_png: "samples (PNG)", losses_png: "loss curves (PNG)", samples_npy: "raw samples (NumPy .npy)" };
    for (const [k, url] of Object.entries(run.artifacts || {})) add(url, names[k] || k);
    add(runUrl(panel, run.id), "raw JSON");
    p.lastChild.remove();
    return p;
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

/* The latent-space explorer of book/06_latent_explorer.ipynb: plain JavaScript, no library, no
 * network. The notebook inlines this file (and latent_explorer.css) into the page, with the
 * decoders exported by vae_np.export in a <script type="application/json" id="vae-latent-data">.
 *
 * Every image is decoded here, in float32, exactly as vae_np's ExportedDecoder.decode and
 * model.decode compute it: for each layer Y = act(X @ W + b), then sigmoid for a Bernoulli
 * decoder. tests/test_explorer_browser.py compares the pixels with vae_np's decode.
 *
 * Conventions the test relies on (keep them in step with it):
 *  - a decoded image is drawn into a 28x28 canvas (class "vae-digit"), pixel value
 *    v = round(255 * (1 - p)) in R, G and B (black ink on white), alpha 255;
 *  - the map canvas covers z1, z2 in [-R, R] (R = data-range of the map widget): a pointer at
 *    client coordinates (x, y) decodes z1 = -R + 2R (x - rect.left) / rect.width,
 *    z2 = R - 2R (y - rect.top) / rect.height (rect = the canvas's getBoundingClientRect());
 *  - each widget's element carries the point it decoded last in data-z (comma-separated).
 */
(function () {
  "use strict";
  if (window.vaeLatentExplorer) return;          // the script was included twice

  const f32 = Math.fround;
  const DIGIT_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];   // tab10

  // ------------------------------------------------------------------------------ the data
  function bytesFromBase64(text) {
    const s = atob(text);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  function floatsFromBase64(text, n, what) {
    const bytes = bytesFromBase64(text);
    if (bytes.length !== 4 * n) {
      throw new Error(`${what}: ${bytes.length} bytes, expected ${4 * n}`);
    }
    const view = new DataView(bytes.buffer);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);   // little-endian
    return out;
  }

  // the activations of vae_np.nn.layers and the stable sigmoid of vae_np.nn.losses, in float32
  function sigmoid32(a) {
    const e = f32(Math.exp(-Math.abs(a)));
    return a >= 0 ? f32(1 / f32(1 + e)) : f32(e / f32(1 + e));
  }
  const ACTIVATIONS = {
    identity: (x) => x,
    relu: (x) => (x > 0 ? x : 0),
    tanh: (x) => f32(Math.tanh(x)),
    sigmoid: sigmoid32,
    softplus: (x) => f32(Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)))),
  };

  class Decoder {
    constructor(spec) {
      if (spec.format !== "vae_np-decoder" || spec.version !== 1) {
        throw new Error(`not a vae_np decoder export (format ${spec.format}, version ${spec.version})`);
      }
      this.latentDim = spec.latent_dim;
      this.outputDim = spec.output_dim;
      this.sigmoidOutput = spec.output === "sigmoid";
      this.layers = spec.layers.map((L, i) => {
        if (!(L.activation in ACTIVATIONS)) throw new Error(`layer ${i}: activation ${L.activation}`);
        return {nIn: L.in, nOut: L.out, act: ACTIVATIONS[L.activation],
                W: floatsFromBase64(L.W, L.in * L.out, `layer ${i} W`),
                b: floatsFromBase64(L.b, L.out, `layer ${i} b`)};
      });
    }

    /** z: latentDim numbers (rounded to float32) -> Float32Array of outputDim means. */
    decode(z) {
      let x = Float32Array.from(z);
      for (const L of this.layers) {
        const acc = new Float32Array(L.nOut);         // float32 sums: every store rounds
        for (let i = 0; i < L.nIn; i++) {
          const xi = x[i];
          if (xi === 0) continue;                     // a ReLU's zeros add nothing
          const row = i * L.nOut;
          for (let j = 0; j < L.nOut; j++) acc[j] = acc[j] + f32(xi * L.W[row + j]);
        }
        for (let j = 0; j < L.nOut; j++) acc[j] = L.act(f32(acc[j] + L.b[j]));
        x = acc;
      }
      if (this.sigmoidOutput) for (let j = 0; j < x.length; j++) x[j] = sigmoid32(x[j]);
      return x;
    }
  }

  let cache = null;
  function data() {
    if (cache) return cache;
    const el = document.getElementById("vae-latent-data");
    if (!el) throw new Error("the page has no #vae-latent-data (run the notebook's data cell)");
    const raw = JSON.parse(el.textContent);
    const models = {};
    for (const [key, m] of Object.entries(raw.models)) {
      models[key] = {label: m.label, decoder: new Decoder(m.decoder)};
    }
    const k2 = models["2d"].decoder.latentDim;
    const nTest = raw.test.labels.length;
    const w = raw.walk;
    cache = {
      models,
      test: {labels: raw.test.labels, mu: floatsFromBase64(raw.test.mu_2d, nTest * k2, "test codes")},
      walk: {
        labels: w.labels, indices: w.indices, steps: w.steps, start: w.start, end: w.end,
        images: bytesFromBase64(w.images),
        mu: Object.fromEntries(Object.keys(models).map((key) => [key, floatsFromBase64(
          w["mu_" + key], w.labels.length * models[key].decoder.latentDim, "walk codes " + key)])),
      },
    };
    return cache;
  }

  // ------------------------------------------------------------------------------ drawing
  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const c of children || []) e.appendChild(c);
    return e;
  }

  function digitCanvas(cssSize, extraClass) {
    const c = el("canvas", {width: 28, height: 28, class: "vae-digit " + (extraClass || "")});
    c.style.width = c.style.height = cssSize + "px";
    return c;
  }

  /** Draw 784 pixel means p (in [0, 1]) as black ink on white. */
  function drawDigit(canvas, p) {
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(28, 28);
    for (let k = 0; k < 784; k++) {
      const v = Math.round(255 * (1 - p[k]));
      img.data[4 * k] = img.data[4 * k + 1] = img.data[4 * k + 2] = v;
      img.data[4 * k + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  /** Draw a stored test image (784 grey levels 0..255, 255 = ink). */
  function drawImageBytes(canvas, bytes, offset) {
    const p = new Float32Array(784);
    for (let k = 0; k < 784; k++) p[k] = bytes[offset + k] / 255;
    drawDigit(canvas, p);
  }

  /** P(|z|^2 <= r2) under N(0, I_k) for even k (the chi-squared CDF): the prior's mass
   *  closer to the origin than a point at squared distance r2. */
  function priorMassWithin(r2, k) {
    if (k % 2) return NaN;
    let term = 1, sum = 1;
    for (let j = 1; j < k / 2; j++) { term *= r2 / 2 / j; sum += term; }
    return 1 - Math.exp(-r2 / 2) * sum;
  }

  function fmt(x, digits) { return (x < 0 ? "\u2212" : "") + Math.abs(x).toFixed(digits); }
  const SUB = ["\u2081", "\u2082", "\u2083", "\u2084", "\u2085", "\u2086", "\u2087", "\u2088", "\u2089"];
  function zName(i) { return "z" + (i < 9 ? SUB[i] : "_" + (i + 1)); }

  /** A square map of the 2-D latent space: the prior's circles, the test codes, a marker. */
  class LatentMap {
    constructor(cssSize, range, options) {
      this.range = range;
      this.size = cssSize;
      this.ratio = Math.max(1, Math.round(window.devicePixelRatio || 1));
      this.canvas = el("canvas", {class: "vae-map", width: cssSize * this.ratio,
                                  height: cssSize * this.ratio});
      this.canvas.style.width = this.canvas.style.height = cssSize + "px";
      this.options = options || {};
      this.background = this.drawBackground();
    }

    toPixel(z1, z2) {
      const s = this.size * this.ratio, R = this.range;
      return [(z1 + R) / (2 * R) * s, (R - z2) / (2 * R) * s];
    }

    /** The mapping from a pointer position to z (see the header comment). */
    fromClient(x, y) {
      const r = this.canvas.getBoundingClientRect(), R = this.range;
      const clamp = (v) => Math.min(R, Math.max(-R, v));
      return [clamp(-R + 2 * R * (x - r.left) / r.width), clamp(R - 2 * R * (y - r.top) / r.height)];
    }

    drawBackground() {
      const d = data(), s = this.size * this.ratio, q = this.ratio, R = this.range;
      const off = document.createElement("canvas");
      off.width = off.height = s;
      const ctx = off.getContext("2d");
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, 0, s, s);
      ctx.lineWidth = q;
      ctx.strokeStyle = "#e4e4e4";                   // the grid, one line per unit of z
      for (let v = Math.ceil(-R); v <= R; v++) {
        const [x] = this.toPixel(v, 0), [, y] = this.toPixel(0, v);
        ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, s); ctx.stroke();
        ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(s, y); ctx.stroke();
      }
      ctx.strokeStyle = "#888888";                   // the prior's circles
      ctx.fillStyle = "#666666";
      ctx.setLineDash([4 * q, 3 * q]);
      ctx.font = `${11 * q}px sans-serif`;
      const [cx, cy] = this.toPixel(0, 0);
      for (const r of [1, 2, 3]) {
        if (r >= R) continue;
        const rad = r / (2 * R) * s;
        ctx.beginPath(); ctx.arc(cx, cy, rad, 0, 2 * Math.PI); ctx.stroke();
        if (this.options.labels !== false) {
          const mass = Math.round(100 * priorMassWithin(r * r, 2));
          ctx.fillText(`${mass}%`, cx + 3 * q, cy + rad - 4 * q);     // inside, at the bottom
        }
      }
      ctx.setLineDash([]);
      const mu = d.test.mu, labels = d.test.labels, dot = (this.options.dot || 2.2) * q;
      ctx.globalAlpha = 0.75;
      for (let i = 0; i < labels.length; i++) {
        const [x, y] = this.toPixel(mu[2 * i], mu[2 * i + 1]);
        ctx.fillStyle = DIGIT_COLOURS[labels[i] % 10];
        ctx.beginPath(); ctx.arc(x, y, dot, 0, 2 * Math.PI); ctx.fill();
      }
      ctx.globalAlpha = 1;
      if (this.options.labels !== false) {
        ctx.fillStyle = "#444444";
        for (let v = Math.ceil(-R); v <= R; v++) {
          if (v === 0 || Math.abs(v) === R) continue;
          const [x] = this.toPixel(v, 0), [, y] = this.toPixel(0, v);
          ctx.fillText(String(v), x + 2 * q, s - 4 * q);
          ctx.fillText(String(v), 3 * q, y - 2 * q);
        }
        ctx.fillText("z\u2081 \u2192", s - 34 * q, s - 16 * q);
        ctx.fillText("z\u2082 \u2191", 16 * q, 14 * q);
      }
      return off;
    }

    /** Redraw with a marker at z and, optionally, a segment from a to b. */
    draw(z, segment) {
      const ctx = this.canvas.getContext("2d"), q = this.ratio;
      ctx.drawImage(this.background, 0, 0);
      if (segment) {
        const [ax, ay] = this.toPixel(segment[0][0], segment[0][1]);
        const [bx, by] = this.toPixel(segment[1][0], segment[1][1]);
        ctx.strokeStyle = "#000000"; ctx.lineWidth = 1.5 * q;
        ctx.beginPath(); ctx.moveTo(ax, ay); ctx.lineTo(bx, by); ctx.stroke();
      }
      const [x, y] = this.toPixel(z[0], z[1]);
      ctx.lineWidth = 2 * q;
      ctx.strokeStyle = "#ffffff";
      ctx.beginPath(); ctx.arc(x, y, 6 * q, 0, 2 * Math.PI); ctx.stroke();
      ctx.strokeStyle = "#000000"; ctx.lineWidth = 1.5 * q;
      ctx.beginPath(); ctx.arc(x, y, 6 * q, 0, 2 * Math.PI); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(x - 10 * q, y); ctx.lineTo(x + 10 * q, y);
      ctx.moveTo(x, y - 10 * q); ctx.lineTo(x, y + 10 * q); ctx.stroke();
    }
  }

  function legend() {
    return el("div", {class: "vae-legend"}, DIGIT_COLOURS.map((c, i) => {
      const chip = el("span", {class: "vae-chip"});
      chip.style.background = c;
      return el("span", {class: "vae-legend-item"}, [chip, document.createTextNode(String(i))]);
    }));
  }

  /** The digit and distance of the test code nearest to z (2-D model). */
  function nearestTest(z) {
    const d = data(), mu = d.test.mu;
    let best = Infinity, label = -1;
    for (let i = 0; i < d.test.labels.length; i++) {
      const a = mu[2 * i] - z[0], b = mu[2 * i + 1] - z[1], r = a * a + b * b;
      if (r < best) { best = r; label = d.test.labels[i]; }
    }
    return [label, Math.sqrt(best)];
  }

  // ------------------------------------------------------------------------------ widgets
  /** (a) The 2-D latent canvas: pointer position -> z -> image. */
  function mountMap(root) {
    const d = data(), dec = d.models["2d"].decoder;
    const R = Number(root.dataset.range || 4);
    const map = new LatentMap(Number(root.dataset.size || 380), R);
    const digit = digitCanvas(168);
    const out = el("div", {class: "vae-readout", "aria-live": "polite"});
    root.append(
      el("div", {class: "vae-row"}, [
        el("div", {class: "vae-col"}, [map.canvas, legend()]),
        el("div", {class: "vae-col"}, [digit, out]),
      ]));
    map.canvas.setAttribute("tabindex", "0");
    map.canvas.setAttribute("aria-label", "2-D latent space: move the pointer or use the arrow keys");
    let z = [0, 0];
    function show() {
      drawDigit(digit, dec.decode(z));
      map.draw(z);
      root.dataset.z = z.join(",");
      const r2 = z[0] * z[0] + z[1] * z[1];
      const [label, dist] = nearestTest(z);
      out.innerHTML = "";
      out.append(
        el("div", {class: "vae-z", text: `z = (${fmt(z[0], 3)}, ${fmt(z[1], 3)})`}),
        el("div", {class: "vae-density",
                   text: `prior density p(z) = ${(Math.exp(-r2 / 2) / (2 * Math.PI)).toPrecision(3)}`}),
        el("div", {text: `prior mass nearer the origin: ${(100 * priorMassWithin(r2, 2)).toFixed(0)}%`}),
        el("div", {text: `nearest test code: a ${label}, ${dist.toFixed(2)} away`}));
    }
    let dragging = false;
    map.canvas.addEventListener("pointerdown", (e) => {
      dragging = true;
      map.canvas.setPointerCapture(e.pointerId);
      z = map.fromClient(e.clientX, e.clientY); show();
    });
    map.canvas.addEventListener("pointermove", (e) => {
      if (e.pointerType === "mouse" || dragging) { z = map.fromClient(e.clientX, e.clientY); show(); }
    });
    const stop = () => { dragging = false; };
    map.canvas.addEventListener("pointerup", stop);
    map.canvas.addEventListener("pointercancel", stop);
    map.canvas.addEventListener("keydown", (e) => {
      const step = e.shiftKey ? 0.25 : 0.05;
      const moves = {ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step]};
      if (!(e.key in moves)) return;
      e.preventDefault();
      z = z.map((v, i) => Math.min(R, Math.max(-R, v + moves[e.key][i]))); show();
    });
    show();
  }

  /** (b) One slider per latent dimension of the larger model, and a prior sample button. */
  function mountSliders(root) {
    const d = data(), key = root.dataset.model || "8d", dec = d.models[key].decoder;
    const k = dec.latentDim, lim = Number(root.dataset.limit || 4);
    const digit = digitCanvas(168);
    const out = el("div", {class: "vae-readout", "aria-live": "polite"});
    const sliders = [], values = [];
    const rows = [];
    for (let i = 0; i < k; i++) {
      const s = el("input", {type: "range", min: -lim, max: lim, step: "0.01", value: "0",
                             class: "vae-slider", "aria-label": zName(i)});
      const v = el("span", {class: "vae-value"});
      sliders.push(s); values.push(v);
      rows.push(el("label", {class: "vae-slider-row"}, [el("span", {class: "vae-name", text: zName(i)}), s, v]));
      s.addEventListener("input", show);
    }
    const sample = el("button", {type: "button", class: "vae-button", text: "random prior sample"});
    const reset = el("button", {type: "button", class: "vae-button", text: "back to the origin"});
    root.append(el("div", {class: "vae-row"}, [
      el("div", {class: "vae-col vae-sliders"}, [...rows, el("div", {}, [sample, reset])]),
      el("div", {class: "vae-col"}, [digit, out]),
    ]));
    function show() {
      const z = sliders.map((s) => s.valueAsNumber);
      z.forEach((v, i) => { values[i].textContent = fmt(v, 2); });
      drawDigit(digit, dec.decode(z));
      root.dataset.z = z.join(",");
      const r2 = z.reduce((a, v) => a + v * v, 0);
      out.innerHTML = "";
      out.append(
        el("div", {class: "vae-norm", text: `distance from the origin |z| = ${Math.sqrt(r2).toFixed(2)}`}),
        el("div", {text: `log prior density log p(z) = ${(-0.5 * r2 - k / 2 * Math.log(2 * Math.PI)).toFixed(2)}`}),
        el("div", {text: `prior mass nearer the origin: ${(100 * priorMassWithin(r2, k)).toFixed(0)}%`}));
    }
    function gauss() {                               // Box-Muller
      let u = 0;
      while (u === 0) u = Math.random();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * Math.random());
    }
    sample.addEventListener("click", () => {
      sliders.forEach((s) => { s.value = String(Math.max(-lim, Math.min(lim, gauss())).toFixed(2)); });
      show();
    });
    reset.addEventListener("click", () => { sliders.forEach((s) => { s.value = "0"; }); show(); });
    show();
  }

  /** (c) A straight-line walk between two test images' codes, played step by step. */
  function mountWalk(root) {
    const d = data(), w = d.walk, N = w.steps;
    const options = () => w.labels.map((lab, i) => el("option", {value: String(i),
      text: `a ${lab} (test image ${w.indices[i]})`}));
    const from = el("select", {class: "vae-select", "aria-label": "from"}, options());
    const to = el("select", {class: "vae-select", "aria-label": "to"}, options());
    from.value = String(w.start); to.value = String(w.end);
    const radios = Object.entries(d.models).map(([key, m], i) => {
      const r = el("input", {type: "radio", name: root.id + "-model", value: key});
      if (i === 0) r.checked = true;
      return [r, el("label", {class: "vae-radio"}, [r, document.createTextNode(" " + m.label)])];
    });
    const play = el("button", {type: "button", class: "vae-button vae-play", text: "\u25B6 play"});
    const step = el("input", {type: "range", min: "0", max: String(N), step: "1", value: "0",
                              class: "vae-step", "aria-label": "step"});
    const a = digitCanvas(84), b = digitCanvas(84), frame = digitCanvas(168, "vae-frame");
    const strip = [];
    for (let s = 0; s <= N; s++) strip.push(digitCanvas(42, "vae-strip"));
    const map = new LatentMap(220, 4, {labels: false, dot: 1.6});
    const out = el("div", {class: "vae-readout", "aria-live": "polite"});
    root.append(
      el("div", {class: "vae-controls"}, [
        el("label", {}, [document.createTextNode("from "), from]),
        el("label", {}, [document.createTextNode(" to "), to]),
        ...radios.map((r) => r[1]),
      ]),
      el("div", {class: "vae-row"}, [
        el("div", {class: "vae-col"}, [el("div", {class: "vae-caption", text: "from"}), a]),
        el("div", {class: "vae-col"}, [frame, el("div", {}, [play, step]), out]),
        el("div", {class: "vae-col"}, [el("div", {class: "vae-caption", text: "to"}), b]),
        el("div", {class: "vae-col vae-walk-map"}, [map.canvas]),
      ]),
      el("div", {class: "vae-filmstrip"}, strip));
    const model = () => radios.find((r) => r[0].checked)[0].value;
    function code(key, i) {
      const kz = d.models[key].decoder.latentDim;
      return Array.from(w.mu[key].subarray(i * kz, (i + 1) * kz));
    }
    function zAt(key, s) {                           // z_t = (1 - t) mu_from + t mu_to, t = s / N
      const t = s / N, za = code(key, Number(from.value)), zb = code(key, Number(to.value));
      return za.map((v, i) => f32((1 - t) * v + t * zb[i]));
    }
    let frames = [];
    function rebuild() {                             // new endpoints or model: decode every step
      const key = model();
      frames = [];
      for (let s = 0; s <= N; s++) {
        const p = d.models[key].decoder.decode(zAt(key, s));
        frames.push(p);
        drawDigit(strip[s], p);
      }
      drawImageBytes(a, w.images, 784 * Number(from.value));
      drawImageBytes(b, w.images, 784 * Number(to.value));
      map.canvas.parentNode.style.display = key === "2d" ? "" : "none";
      show();
    }
    function show() {
      const key = model(), s = Number(step.value), z = zAt(key, s);
      drawDigit(frame, frames[s]);
      strip.forEach((c, i) => c.classList.toggle("vae-current", i === s));
      root.dataset.z = z.join(",");
      root.dataset.step = String(s);
      if (key === "2d") map.draw(z, [zAt(key, 0), zAt(key, N)]);
      const norm = Math.sqrt(z.reduce((acc, v) => acc + v * v, 0));
      out.innerHTML = "";
      out.append(el("div", {class: "vae-t", text: `step ${s} of ${N}, t = ${(s / N).toFixed(2)}`}),
                 el("div", {text: `|z| = ${norm.toFixed(2)}`}));
    }
    let timer = null;
    function stopPlaying() { clearInterval(timer); timer = null; play.textContent = "\u25B6 play"; }
    play.addEventListener("click", () => {
      if (timer) { stopPlaying(); return; }
      if (Number(step.value) >= N) { step.value = "0"; show(); }
      play.textContent = "\u275A\u275A pause";
      timer = setInterval(() => {
        const s = Number(step.value) + 1;
        step.value = String(s);
        show();
        if (s >= N) stopPlaying();
      }, Number(root.dataset.interval || 250));
    });
    step.addEventListener("input", () => { stopPlaying(); show(); });
    strip.forEach((c, s) => c.addEventListener("click", () => { stopPlaying(); step.value = String(s); show(); }));
    [from, to].forEach((x) => x.addEventListener("change", () => { stopPlaying(); rebuild(); }));
    radios.forEach((r) => r[0].addEventListener("change", () => { stopPlaying(); rebuild(); }));
    rebuild();
  }

  const WIDGETS = {map: mountMap, sliders: mountSliders, walk: mountWalk};

  /** Build the widget in the element with this id (after the page has been parsed). */
  function mount(id) {
    const run = () => {
      const root = document.getElementById(id);
      try {
        root.innerHTML = "";
        WIDGETS[root.dataset.widget](root);
      } catch (err) {
        root.textContent = "The explorer could not start: " + err.message;
        throw err;
      }
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
    else run();
  }

  window.vaeLatentExplorer = {mount, Decoder, data};
})();

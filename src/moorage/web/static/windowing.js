// Window/level of DICOM and NIfTI slices in the viewer, on their original values.
// Each slice's values (after the modality LUT: HU for CT) come from
// .../slices/{n}/values as little-endian int16 or float32; they are windowed here on a canvas
// with DICOM's linear function, so a preset, a typed W/L or a drag redraws at once with no
// request. Until a slice's values arrive, the stored 8-bit slice image (the <img>) is shown.
"use strict";

(() => {
  const CT_PRESETS = [
    ["Lung", 1500, -600], ["Mediastinum (soft tissue)", 400, 40], ["Bone", 1800, 400],
    ["Bone (wide)", 2000, 300], ["Brain", 80, 40],
  ];
  const CACHE = 64;

  function node(tag, attrs = {}, text = "") {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text) n.textContent = text;
    return n;
  }

  // the browser's typed arrays are little-endian on every platform browsers run on
  async function fetchSlice(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try { message = (await response.json()).error.message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    const h = (name) => response.headers.get(name);
    const buffer = await response.arrayBuffer();
    const values = h("X-Slice-Dtype") === "int16" ? new Int16Array(buffer) : new Float32Array(buffer);
    const center = h("X-Window-Center"), width = h("X-Window-Width");
    return {
      values, width: Number(h("X-Slice-Width")), height: Number(h("X-Slice-Height")),
      min: Number(h("X-Value-Min")), max: Number(h("X-Value-Max")), unit: h("X-Value-Unit"),
      invert: h("X-Slice-Invert") === "1",
      window: center !== null && width !== null ? [Number(center), Number(width)] : null,
    };
  }

  // the 0.5th..99.5th percentile of a strided sample of the slice
  function percentiles(values) {
    const stride = Math.max(1, Math.floor(values.length / 65536));
    const sample = [];
    for (let i = 0; i < values.length; i += stride) sample.push(values[i]);
    sample.sort((a, b) => a - b);
    const at = (p) => sample[Math.min(sample.length - 1, Math.floor(p * (sample.length - 1)))];
    return [at(0.005), at(0.995)];
  }

  // a window [center, width] whose linear function maps low to 0 and high to 255
  const spanning = (low, high) => {
    const width = Math.max(1, high - low + 1);
    return [low + width / 2, width];
  };

  function presetsFor(slot) {
    const medical = (slot.metadata && slot.metadata.medical) || {};
    const list = [["File", (s) => s.window]];
    if (Array.isArray(medical.display_range)) {  // NIfTI (its slots are of Darwin's type dicom)
      const [slope, inter] = medical.slope_intercept || [];
      const k = Number.isFinite(slope) && slope ? slope : 1, b = Number.isFinite(inter) ? inter : 0;
      const [lo, hi] = medical.display_range;
      list.push(["Volume (0.5-99.5 %)", () => spanning(lo * k + b, hi * k + b)]);
    }
    list.push(["Full range", (s) => spanning(s.min, s.max)]);
    list.push(["Auto (0.5-99.5 %)", (s) => { const [lo, hi] = percentiles(s.values); return spanning(lo, hi); }]);
    if (medical.modality === "CT") for (const [name, w, c] of CT_PRESETS) list.push([`${name} W${w} L${c}`, () => [c, w]]);
    return list;
  }

  function draw(canvas, s, center, width) {
    canvas.width = s.width; canvas.height = s.height;
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(s.width, s.height);
    const out = image.data, v = s.values;
    // DICOM PS3.3 C.11.2.1.2.1 (linear), onto 0..255 and truncated as the server does
    const low = center - 0.5 - (width - 1) / 2, scale = 255 / Math.max(1e-9, width - 1);
    for (let i = 0, j = 0; i < v.length; i++, j += 4) {
      let y = Math.floor((v[i] - low) * scale);
      y = y < 0 ? 0 : y > 255 ? 255 : y;
      if (s.invert) y = 255 - y;
      out[j] = out[j + 1] = out[j + 2] = y; out[j + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
    canvas.dataset.center = String(center); canvas.dataset.width = String(width);
  }

  // returns show(index) for the section viewer: it keeps the stored <img> in step and draws
  // the canvas over it once the slice's values are here
  function attach(box, slot, img, controls) {
    const base = slot.file_url.replace(/\/file$/, "");
    const canvas = node("canvas", { class: "section windowed", role: "img", hidden: "" });
    img.after(canvas);
    const presets = presetsFor(slot);
    const select = node("select", { "aria-label": "Window preset" });
    for (const [name] of presets) select.append(node("option", { value: name }, name));
    select.append(node("option", { value: "Custom" }, "Custom"));
    const field = (label) => {
      const input = node("input", { type: "number", step: "1", inputmode: "decimal", class: "wl" });
      const wrap = node("label", {}, `${label} `);
      wrap.append(input);
      return [wrap, input];
    };
    const [wLabel, wInput] = field("W");
    const [lLabel, lInput] = field("L");
    wInput.min = "1";
    const note = node("span", { class: "wl-note", "aria-live": "polite" });
    controls.append(select, wLabel, lLabel, note);
    const cache = new Map();
    let shown = -1, current = null, center = 0, width = 1, chosen = null;

    const redraw = () => {
      if (!current) return;
      draw(canvas, current, center, width);
      wInput.value = String(Math.round(width * 100) / 100);
      lInput.value = String(Math.round(center * 100) / 100);
      canvas.setAttribute("aria-label", `${img.alt}, window W ${wInput.value} L ${lInput.value}${current.unit ? " " + current.unit : ""}`);
      canvas.hidden = false; img.hidden = true;
      box.dataset.windowed = String(shown + 1);
    };
    const apply = (name) => {
      const preset = presets.find(([n]) => n === name);
      const win = preset && current ? preset[1](current) : null;
      if (!win) return false;
      [center, width] = win; chosen = name; select.value = name;
      redraw();
      return true;
    };
    const custom = (c, w) => {
      center = c; width = Math.max(1, w); chosen = null; select.value = "Custom"; redraw();
    };
    // the file's own window when it has one, else the window the stored slices were made with
    const fallback = () => apply("Volume (0.5-99.5 %)") || apply("Full range");
    const load = (n) => {
      if (!cache.has(n)) {
        cache.set(n, fetchSlice(`${base}/slices/${n}/values`));
        if (cache.size > CACHE) cache.delete(cache.keys().next().value);
      }
      return cache.get(n);
    };
    const show = (index) => {
      shown = index;
      const n = index + 1;
      load(n).then((s) => {
        if (shown !== index) return;
        const first = current === null;
        current = s;
        note.textContent = "";
        if (first && !s.window) select.querySelector('option[value="File"]').remove();
        if (first) { if (!apply("File")) fallback(); }
        else if (chosen === null) redraw();
        else if (!apply(chosen)) fallback();
      }, (error) => {
        cache.delete(n);
        if (shown !== index) return;
        canvas.hidden = true; img.hidden = false;
        note.textContent = `Window/level unavailable: ${error.message}`;
      });
      for (const near of [n + 1, n - 1]) if (near >= 1 && near <= slot.sections.length) load(near).catch(() => {});
    };
    select.addEventListener("change", () => { if (select.value !== "Custom") apply(select.value); });
    for (const input of [wInput, lInput]) {
      input.addEventListener("change", () => {
        const w = Number(wInput.value), c = Number(lInput.value);
        if (Number.isFinite(w) && Number.isFinite(c)) custom(c, w);
      });
    }
    // drag: right/left widens/narrows the window, down/up lowers/raises the level
    let drag = null;
    canvas.addEventListener("pointerdown", (e) => {
      if (!current || e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, center, width, step: Math.max(0.01, (current.max - current.min) / 512) };
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!drag) return;
      custom(drag.center - (e.clientY - drag.y) * drag.step, drag.width + (e.clientX - drag.x) * drag.step);
    });
    canvas.addEventListener("pointerup", () => { drag = null; });
    return show;
  }

  window.moorageWindowing = { attach, draw };  // draw: for benchmarks/windowing.py
})();

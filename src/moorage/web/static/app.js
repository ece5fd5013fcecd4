// moorage gallery: progressive enhancement only; every page works as plain HTML without it.
"use strict";

// --- the dataset grid: the next page is fetched and appended as the user scrolls ---------------
// Thumbnails load as their card comes near the viewport (100 px ahead), not the browser's own
// lazy distance (over 1,000 px): the first screen's pictures do not queue behind the rest.
const thumbs = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    const img = entry.target;
    thumbs.unobserve(img);
    img.src = img.dataset.src;
    delete img.dataset.src;
  }
}, { rootMargin: "100px" });

function watchThumbs(root) {
  for (const img of root.querySelectorAll("img.thumb[data-src]")) thumbs.observe(img);
}

function enhanceGrid() {
  const grid = document.getElementById("grid");
  if (!grid) return;
  watchThumbs(grid);
  const loadMore = async (link) => {
    const url = link.dataset.fragment;
    link.textContent = "Loading…";
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) { link.textContent = "More items"; return; }
    const html = await response.text();
    const holder = document.createElement("template");
    holder.innerHTML = html;
    link.parentElement.remove();
    grid.append(holder.content);
    watchThumbs(grid);
    watchMore();
  };
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) { observer.unobserve(entry.target); loadMore(entry.target); }
    }
  }, { rootMargin: "600px" });
  const watchMore = () => {
    const link = grid.querySelector("a.next");
    if (link) observer.observe(link);
  };
  grid.addEventListener("click", (e) => {
    const link = e.target.closest("a.next");
    if (link) { e.preventDefault(); observer.unobserve(link); loadMore(link); }
  });
  // arrow keys move between cards (a row's length from the layout), Home/End to the ends;
  // stepping past the last card loads the next page. Enter opens the focused card (a link).
  grid.addEventListener("keydown", (e) => {
    const links = [...grid.querySelectorAll("li.card > a")];
    const i = links.indexOf(document.activeElement);
    if (i < 0) return;
    const top = links[0].parentElement.offsetTop;
    const rowEnd = links.findIndex((a) => a.parentElement.offsetTop !== top);
    const perRow = rowEnd > 0 ? rowEnd : links.length;
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: perRow, ArrowUp: -perRow,
      Home: -links.length, End: links.length }[e.key];
    if (step === undefined) return;
    e.preventDefault();
    const more = grid.querySelector("a.next");
    if (i + step >= links.length && more && e.key !== "End") {
      observer.unobserve(more);
      loadMore(more).then(() => {
        const fresh = [...grid.querySelectorAll("li.card > a")];
        (fresh[Math.min(fresh.length - 1, i + step)] || fresh[fresh.length - 1]).focus();
      });
      return;
    }
    links[Math.min(links.length - 1, Math.max(0, i + step))].focus();
  });
  watchMore();
}

// --- the folder tree's counts: a scan of the dataset's items, so fetched after the page ------
async function folderCounts() {
  const nav = document.querySelector("nav.folders[data-counts]");
  if (!nav) return;
  const response = await fetch(nav.dataset.counts, { credentials: "same-origin" });
  if (!response.ok) return;
  const holder = document.createElement("template");
  holder.innerHTML = await response.text();
  const list = holder.content.getElementById("folder-list");
  const old = document.getElementById("folder-list");
  if (list && old) old.replaceWith(list);
}

// --- a sync's page: its progress fragment is fetched again every second until it has finished -
function watchSync() {
  const poll = async () => {
    const box = document.getElementById("sync-progress");
    if (!box || !box.dataset.poll) return;
    const response = await fetch(box.dataset.poll, { credentials: "same-origin" });
    if (response.ok) {
      const holder = document.createElement("template");
      holder.innerHTML = await response.text();
      const fresh = holder.content.getElementById("sync-progress");
      if (fresh) box.replaceWith(fresh);
    }
    setTimeout(poll, 1000);
  };
  if (document.getElementById("sync-progress")) setTimeout(poll, 1000);
}

// --- viewers ------------------------------------------------------------------------------
function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function imageViewer(box, slot) {
  const frame = el("div", { class: "zoom" });
  const img = el("img", { src: slot.file_url, alt: slot.file_name });
  frame.append(img);
  const label = el("p", { class: "counter", "aria-live": "polite" }, "100%");
  box.append(frame, label);
  let scale = 1, x = 0, y = 0, drag = null;
  const apply = () => {
    img.style.transform = `translate(${x}px, ${y}px) scale(${scale})`;
    label.textContent = `${Math.round(scale * 100)}%`;
  };
  const zoom = (factor) => { scale = Math.min(32, Math.max(0.1, scale * factor)); apply(); };
  frame.addEventListener("wheel", (e) => { e.preventDefault(); zoom(e.deltaY < 0 ? 1.2 : 1 / 1.2); });
  frame.addEventListener("pointerdown", (e) => { drag = [e.clientX - x, e.clientY - y]; frame.setPointerCapture(e.pointerId); });
  frame.addEventListener("pointermove", (e) => { if (drag) { x = e.clientX - drag[0]; y = e.clientY - drag[1]; apply(); } });
  frame.addEventListener("pointerup", () => { drag = null; });
  box.addEventListener("keydown", (e) => {
    if (e.key === "+" || e.key === "=") zoom(1.2);
    else if (e.key === "-") zoom(1 / 1.2);
    else if (e.key === "0") { scale = 1; x = 0; y = 0; apply(); }
  });
}

// Frames, slices and pages are the slot's sections. Video: lq frames while scrubbing or playing,
// the hq frame once paused (the seed's rule).
function sectionViewer(box, slot) {
  const sections = slot.sections || [];
  if (!sections.length) { box.append(el("p", {}, "No frames or slices were made for this slot.")); return; }
  const noun = { video: "Frame", dicom: "Slice", nifti: "Slice", pdf: "Page" }[slot.type] || "Section";
  const img = el("img", { class: "section", alt: `${slot.file_name}: ${noun.toLowerCase()} 1` });
  const counter = el("p", { class: "counter", "aria-live": "polite" });
  const range = el("input", { type: "range", min: "1", max: String(sections.length), value: "1", "aria-label": noun });
  const controls = el("div", { class: "controls" });
  const prev = el("button", { type: "button" }, "‹ Previous");
  const next = el("button", { type: "button" }, "Next ›");
  controls.append(prev, range, next);
  const stage = el("div", { class: "stage" });
  stage.append(img);
  let index = 0, playing = null, windowed = null;
  const fps = typeof slot.fps === "number" ? slot.fps : (slot.metadata && slot.metadata.native_fps) || 25;
  const show = (i, quality) => {
    index = Math.min(sections.length - 1, Math.max(0, i));
    const s = sections[index];
    const url = quality === "lq" ? (s.lq_url || s.hq_url) : (s.hq_url || s.lq_url);
    img.src = url;
    img.alt = `${slot.file_name}: ${noun.toLowerCase()} ${index + 1}`;
    range.value = String(index + 1);
    counter.textContent = `${noun} ${index + 1} / ${sections.length}` + (slot.type === "video" ? ` · ${fps} fps` : "");
    box.dataset.index = String(index + 1);
    if (windowed) windowed(index);
  };
  prev.addEventListener("click", () => show(index - 1, "hq"));
  next.addEventListener("click", () => show(index + 1, "hq"));
  range.addEventListener("input", () => show(Number(range.value) - 1, "lq"));
  range.addEventListener("change", () => show(Number(range.value) - 1, "hq"));
  box.addEventListener("keydown", (e) => {
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1, PageDown: 10, PageUp: -10 }[e.key];
    if (step !== undefined) { e.preventDefault(); show(index + step, "hq"); }
    else if (e.key === "Home") show(0, "hq");
    else if (e.key === "End") show(sections.length - 1, "hq");
    else if (e.key === " " && slot.type === "video") { e.preventDefault(); toggle(); }
  });
  stage.addEventListener("wheel", (e) => { e.preventDefault(); show(index + (e.deltaY > 0 ? 1 : -1), "hq"); });
  box.append(stage, counter, controls);
  const toggle = () => {
    if (playing) { clearInterval(playing); playing = null; play.textContent = "Play"; show(index, "hq"); return; }
    play.textContent = "Pause";
    playing = setInterval(() => { if (index >= sections.length - 1) toggle(); else show(index + 1, "lq"); }, 1000 / fps);
  };
  const play = el("button", { type: "button" }, "Play");
  if (slot.type === "video") { play.addEventListener("click", toggle); controls.prepend(play); }
  if (windowable(slot)) windowed = window.moorageWindowing.attach(box, slot, img, controls);
  show(0, "hq");
}

// DICOM and NIfTI greyscale slices are windowed on their original values (windowing.js);
// colour ones are shown as stored.
function windowable(slot) {
  if ((slot.type !== "dicom" && slot.type !== "nifti") || !window.moorageWindowing) return false;
  const photometric = slot.metadata && slot.metadata.medical && slot.metadata.medical.photometric;
  return !photometric || photometric === "MONOCHROME1" || photometric === "MONOCHROME2";
}

// HLS: the slot's hq playlist (re-signed by moorage on every request) played with hls.js, or by
// the browser itself where it plays HLS natively.
function streamPlayer(box, slot) {
  const hls = slot.hls_segments && slot.hls_segments.high_quality;
  if (!hls || !hls.url) return;
  const section = el("div", { class: "stream" });
  const video = el("video", { controls: "", preload: "metadata", "aria-label": `${slot.file_name}: HLS stream` });
  const state = el("p", { class: "stream-state", "aria-live": "polite" }, "Stream (HLS): ready");
  section.append(el("h3", {}, "Stream"), video, state);
  box.append(section);
  video.addEventListener("playing", () => { state.textContent = "Stream (HLS): playing"; });
  video.addEventListener("loadeddata", () => { box.dataset.streamLoaded = "1"; });
  if (window.Hls && window.Hls.isSupported()) {
    const player = new window.Hls({ enableWorker: false });
    player.on(window.Hls.Events.ERROR, (_, data) => { if (data.fatal) state.textContent = `Stream (HLS): ${data.details}`; });
    player.loadSource(hls.url);
    player.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = hls.url;
  } else {
    state.textContent = "Stream (HLS): this browser cannot play it";
  }
}

function enhanceViewers() {
  const data = document.getElementById("item-data");
  if (!data) return;
  const item = JSON.parse(data.textContent);
  const slots = document.querySelector(".slots");
  if (slots && slots.dataset.columns) slots.style.setProperty("--columns", slots.dataset.columns);
  for (const box of document.querySelectorAll(".viewer")) {
    const slot = item.slots[Number(box.dataset.slot)];
    if (slot.type === "image" && !(slot.sections && slot.sections.length > 1)) imageViewer(box, slot);
    else sectionViewer(box, slot);
    if (slot.type === "video" && slot.streamable) streamPlayer(box, slot);
  }
}

document.documentElement.classList.remove("no-js");
document.addEventListener("DOMContentLoaded", () => {
  enhanceGrid(); enhanceViewers(); folderCounts(); watchSync();
});

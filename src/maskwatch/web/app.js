// The page: photos and the camera through pipeline.js, everything on this device.
// For tests and embedding: window.maskwatchResults (one record per photo, the schema of
// `maskwatch image --json`), window.maskwatchLive (the camera's counts), window.maskwatchReady.
import * as ort from "./ort/ort.wasm.min.mjs";
import {Pipeline} from "./pipeline.js";
import {Tracker} from "./tracker.js";

const COLORS = {with_mask: "#3cb43c", without_mask: "#dc2828", mask_worn_incorrectly: "#ff9600"};
const SHORT = {with_mask: "mask", without_mask: "no mask", mask_worn_incorrectly: "incorrect"};
const $ = (id) => document.getElementById(id);
window.maskwatchResults = [];
window.maskwatchTimings = [];  // ms per photo: decode excluded, detection + classification

// Threads need a cross-origin isolated page (COOP/COEP headers); a plain file server gets one.
ort.env.wasm.wasmPaths = new URL("./ort/", import.meta.url).href;
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
ort.env.wasm.proxy = false;

// Photos picked or dropped while the models load wait for them (they were dropped before).
let loaded;
const ready = new Promise((resolve, reject) => { loaded = {resolve, reject}; });
const MAX_SHOWN_PX = 1200;  // each result is drawn at most this wide: 90 full-size photos made a 68,000 px page
const seen = new Set();  // name, size and date of every photo analysed: the same photo twice counts once

function say(text, cls) {
  const d = document.createElement("div"); d.className = "msg " + cls; d.textContent = text;
  $("status").prepend(d); return d;
}

// Pixels as OpenCV gives them in Python: BGR, EXIF orientation applied, no colour management.
function toBGR(rgba, w, h) {
  const out = new Uint8Array(w * h * 3);
  for (let i = 0, j = 0; i < w * h * 4; i += 4, j += 3) { out[j] = rgba[i + 2]; out[j + 1] = rgba[i + 1]; out[j + 2] = rgba[i]; }
  return {data: out, width: w, height: h};
}

async function decode(file) {
  const bitmap = await createImageBitmap(file, {imageOrientation: "from-image", colorSpaceConversion: "none", premultiplyAlpha: "none"});
  const canvas = document.createElement("canvas"); canvas.width = bitmap.width; canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d", {willReadFrequently: true}); ctx.drawImage(bitmap, 0, 0);
  const img = toBGR(ctx.getImageData(0, 0, bitmap.width, bitmap.height).data, bitmap.width, bitmap.height);
  bitmap.close();
  return {canvas, img};
}

const drop = $("drop"), pick = $("pick");
drop.onclick = () => pick.click();
drop.onkeydown = (e) => { if (e.key === "Enter" || e.key === " ") pick.click(); };
pick.onchange = () => { analyse([...pick.files]); pick.value = ""; };
drop.ondragover = (e) => { e.preventDefault(); drop.classList.add("over"); };
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = (e) => { e.preventDefault(); drop.classList.remove("over"); analyse([...e.dataTransfer.files]); };

let queue = Promise.resolve();
function analyse(files) {  // one photo at a time, in the order given; a bad one is reported and skipped
  queue = queue.then(async () => {
    const busy = say(pipeline ? `Analysing ${files.length} photo(s)…` : "Waiting for the models to load…", "busy");
    const pipe = await ready.catch(() => null);
    if (!pipe) { busy.remove(); return; }
    let i = 0;
    for (const file of files) {
      i++;
      busy.textContent = `Analysing photo ${i} of ${files.length}: ${file.name}`;
      const key = `${file.name}|${file.size}|${file.lastModified}`;
      if (seen.has(key)) { say(`${file.name} is already analysed above: not counted again`, "note"); continue; }
      seen.add(key);
      let record;
      try {
        if (!file.size) throw new Error("is empty (0 bytes)");
        const {canvas, img} = await decode(file).catch(() => { throw new Error("is not a readable image (corrupt or unsupported format)"); });
        const t0 = performance.now();
        const faces = await pipe.faces(img, "photo");
        window.maskwatchTimings.push(performance.now() - t0);
        record = {file: file.name, width: img.width, height: img.height, error: null, faces};
        show(record, canvas);
      } catch (err) {
        record = {file: file.name, width: null, height: null, error: `${file.name} ${err.message}`, faces: []};
        say(record.error, "error");
      }
      window.maskwatchResults.push(record);
      totals();  // after each photo, not at the end of the batch
    }
    busy.remove(); totals();
  });
  return queue;
}

function drawFaces(ctx, faces, w, h, labelOf, scale = 1) {
  const lw = Math.max(2, Math.round(Math.max(w, h) * scale / 400));
  const size = Math.max(12, lw * 6);
  ctx.font = size + "px system-ui";
  const placed = [];  // label boxes drawn so far: in a crowd, a label that would cover another moves or is left out
  const hits = (r) => placed.some((q) => r[0] < q[2] && q[0] < r[2] && r[1] < q[3] && q[1] < r[3]);
  for (const f of faces) {
    const label = labelOf(f), [x1, y1, x2, y2] = f.box.map((v) => v * scale);
    ctx.strokeStyle = COLORS[label] || "#999"; ctx.lineWidth = lw;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const text = label ? SHORT[label] + (f.score != null ? " " + Math.round(f.score * 100) + "%" : "") : "…";
    const tw = ctx.measureText(text).width + 6, th = size + 4;
    let r = [x1, Math.max(0, y1 - th), x1 + tw, Math.max(0, y1 - th) + th];
    if (hits(r)) r = [x1, y2, x1 + tw, y2 + th];  // below the box instead
    if (hits(r)) continue;  // the colour of the box still says the label
    placed.push(r);
    ctx.fillStyle = COLORS[label] || "#999"; ctx.fillRect(r[0], r[1], tw, th);
    ctx.fillStyle = "#fff"; ctx.fillText(text, r[0] + 3, r[3] - 4);
  }
}

function show(record, full) {
  const div = document.createElement("div"); div.className = "result";
  const title = document.createElement("h3"); title.textContent = `${record.file} — ${record.faces.length} face(s)`;
  // Drawn small: the full-size pixels are not kept once the photo is analysed.
  const scale = Math.min(1, MAX_SHOWN_PX / record.width);
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(record.width * scale); canvas.height = Math.round(record.height * scale);
  canvas.getContext("2d").drawImage(full, 0, 0, canvas.width, canvas.height);
  full.width = full.height = 0;
  canvas.dataset.faces = record.faces.length;
  drawFaces(canvas.getContext("2d"), record.faces, record.width, record.height, (f) => f.label, scale);
  const table = document.createElement("table");
  table.innerHTML = "<tr><th>#</th><th>label</th><th>probability</th><th>face score</th><th>box</th></tr>";
  record.faces.forEach((f, i) => {
    const tr = table.insertRow();
    [i + 1, f.label, (f.score * 100).toFixed(1) + "%", f.face_score.toFixed(2), f.box.map(Math.round).join(", ")]
      .forEach((v, k) => { const td = tr.insertCell(); td.textContent = v; if (k === 1) td.className = f.label; });
  });
  div.append(title, canvas, table); $("results").prepend(div);
}

function totals() {
  const labels = cfg ? cfg.labels : Object.keys(COLORS);
  const c = Object.fromEntries(labels.map((l) => [l, 0])); let n = 0;
  for (const r of window.maskwatchResults) for (const f of r.faces) { c[f.label]++; n++; }
  const rate = n ? Math.round(100 * c.with_mask / n) + "%" : "–";
  const photos = window.maskwatchResults.length;
  $("totals").innerHTML = photos ? `<b id="t-photos">${photos} photo(s)</b><b id="t-faces">${n} faces</b><b class="with_mask">${c.with_mask} mask</b><b class="without_mask">${c.without_mask} no mask</b>` +
    `<b class="mask_worn_incorrectly">${c.mask_worn_incorrectly} incorrect</b><b id="t-rate">compliance ${rate}</b>` : "";
  for (const id of ["dl-json", "dl-csv", "clear"]) $(id).disabled = !photos;
}

function download(name, type, text) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], {type}));
  a.download = name; a.click();
}

// The header every maskwatch output has: the models and settings the faces came from.
$("dl-json").onclick = () => download("maskwatch.json", "application/json",
  JSON.stringify({model: cfg.model, settings: cfg.settings, images: window.maskwatchResults}, null, 1));

// The columns of `maskwatch image --csv`.
$("dl-csv").onclick = () => {
  const labels = cfg.labels;
  const q = (v) => { const t = v == null ? "" : String(v); return /[",\n]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t; };
  const rows = [["file", "face", "x1", "y1", "x2", "y2", "face_score", "label", "score", ...labels.map((l) => "p_" + l), "error"]];
  for (const r of window.maskwatchResults) {
    if (r.error) { rows.push([r.file, "", "", "", "", "", "", "", "", ...labels.map(() => ""), r.error]); continue; }
    r.faces.forEach((f, i) => rows.push([r.file, i, ...f.box.map((v) => Math.round(v * 10) / 10), f.face_score, f.label, f.score, ...labels.map((l) => f.probs[l]), ""]));
  }
  download("maskwatch.csv", "text/csv", rows.map((row) => row.map(q).join(",")).join("\r\n") + "\r\n");
};

$("clear").onclick = () => {
  window.maskwatchResults.length = 0; window.maskwatchTimings.length = 0; seen.clear();
  $("results").replaceChildren(); $("status").replaceChildren(); totals();
};

let cfg = null, pipeline = null;
// (Opened as file://, this module never runs: index.html's inline script says why.)
try {
  cfg = await (await fetch("config.json")).json();
  pipeline = await Pipeline.load(ort, "./", cfg);
  const n = ort.env.wasm.numThreads;
  $("engine").textContent = `ONNX Runtime Web (wasm, ${n} thread${n > 1 ? "s" : ""}${n > 1 ? "" : ": a plain file server gives one; maskwatch serve --in-browser gives several"}), maskwatch ${cfg.version}.`;
  window.maskwatchReady = true;
  loaded.resolve(pipeline);
} catch (err) {
  const msg = `The models could not be loaded (${err.message}): serve this folder with a web server and reload.`;
  $("engine").textContent = msg; say(msg, "error"); loaded.reject(err);
}

// ---- camera: every frame the device can keep up with, a tracker so a person counts once ----
let stream = null;
window.maskwatchLive = {running: false, frames: 0, detections: 0, people: 0, counts: {}, ms_per_frame: null, seconds: 0};
$("cam").onclick = async () => {
  if (!pipeline) { say("The models are not loaded yet: start the camera once they are.", "busy"); return; }
  if (stream) { stream.getTracks().forEach((t) => t.stop()); stream = null; $("cam").textContent = "Start the camera"; window.maskwatchLive.running = false; return; }
  try { stream = await navigator.mediaDevices.getUserMedia({video: true, audio: false}); } catch (err) { say("camera: " + err.message, "error"); return; }
  $("cam").textContent = "Stop the camera";
  const video = $("video"); video.srcObject = stream; await video.play();
  const tracker = new Tracker(cfg.tracker, cfg.labels, cfg.classifier.balancing_weights);
  const canvas = $("live-canvas"), ctx = canvas.getContext("2d", {willReadFrequently: true}), live = window.maskwatchLive;
  canvas.classList.add("on");
  Object.assign(live, {running: true, frames: 0, detections: 0, people: 0});
  const started = performance.now();
  let spent = 0;
  while (stream) {
    if (video.readyState < 2) { await new Promise((r) => setTimeout(r, 30)); continue; }
    const w = video.videoWidth, h = video.videoHeight;
    if (canvas.width !== w) { canvas.width = w; canvas.height = h; }
    ctx.drawImage(video, 0, 0, w, h);
    const t0 = performance.now();
    const faces = await pipeline.faces(toBGR(ctx.getImageData(0, 0, w, h).data, w, h), "video");
    const tracks = tracker.update(faces.map((f) => ({box: f.box, probs: cfg.labels.map((l) => f.probs[l])})));
    spent += performance.now() - t0;
    if ($("blur").checked) for (const t of tracks) {
      const [x1, y1, x2, y2] = t.box.map(Math.round);
      ctx.save(); ctx.beginPath(); ctx.rect(x1, y1, x2 - x1, y2 - y1); ctx.clip(); ctx.filter = `blur(${Math.max(4, (y2 - y1) / 6)}px)`;
      ctx.drawImage(canvas, 0, 0); ctx.restore();
    }
    drawFaces(ctx, tracks, w, h, (t) => t.label);
    const counts = tracker.counts(), people = counts.people;
    Object.assign(live, {frames: live.frames + 1, detections: live.detections + faces.length, tracks: tracker.nextId - 1, people, counts,
                        ms_per_frame: spent / (live.frames + 1), seconds: (performance.now() - started) / 1000});
    const rate = people ? Math.round(100 * counts.with_mask / people) + "%" : "–";
    $("live-counts").innerHTML = `<b id="l-people">${people} people</b><b class="with_mask">${counts.with_mask} mask</b>` +
      `<b class="without_mask">${counts.without_mask} no mask</b><b class="mask_worn_incorrectly">${counts.mask_worn_incorrectly} incorrect</b>` +
      `<b>compliance ${rate}</b><b>${(live.frames / live.seconds).toFixed(1)} fps</b>`;
    await new Promise((r) => requestAnimationFrame(r));
  }
};

// The maskwatch photo pipeline in the browser: the same steps, numbers and ONNX models as the
// Python package (detectors/retinaface.py, classify.py, crops.py, face_score.py), so both give
// the same faces. Every setting comes from config.json, written by `maskwatch export-web` from
// the package's own settings; nothing here is a second home for a default.
// Images are {data: Uint8Array BGR, width, height}, as OpenCV's arrays in Python.

// Python's round(): halves go to the even neighbour (crop boxes and scaled sizes depend on it).
export function roundHalfEven(v) {
  const f = Math.floor(v), d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

// cv2.resize INTER_LINEAR: pixel centres aligned; positions in float32 as OpenCV computes them.
// Off the edge, the horizontal pass takes the edge pixel whole; the vertical pass keeps its
// weights and reads the edge row twice (OpenCV does each so).
function linearTaps(src, dst, vertical) {
  const scale = src / dst, i0 = new Int32Array(dst), i1 = new Int32Array(dst), w = new Float64Array(dst);
  for (let x = 0; x < dst; x++) {
    let f = Math.fround((x + 0.5) * scale - 0.5), s = Math.floor(f);
    f = Math.fround(f - s);
    if (!vertical && s < 0) { s = 0; f = 0; }
    if (!vertical && s >= src - 1) { s = src - 1; f = 0; }
    i0[x] = Math.min(Math.max(s, 0), src - 1); i1[x] = Math.min(Math.max(s + 1, 0), src - 1); w[x] = f;
  }
  return {i0, i1, w};
}

// cv2.resize INTER_AREA when shrinking: each output pixel the area-weighted mean of the input
// pixels it covers, with OpenCV's float32 weights. Per output index: input indices and weights.
function areaTaps(src, dst) {
  const scale = src / dst, taps = [], f32 = Math.fround;
  for (let x = 0; x < dst; x++) {
    const f1 = x * scale, f2 = f1 + scale, cell = Math.min(scale, src - f1);
    let s2 = Math.min(Math.floor(f2), src - 1);
    const s1 = Math.min(Math.ceil(f1), s2), idx = [], wt = [];
    if (s1 - f1 > 1e-3) { idx.push(s1 - 1); wt.push(f32((s1 - f1) / cell)); }
    for (let s = s1; s < s2; s++) { idx.push(s); wt.push(f32(1 / cell)); }
    if (f2 - s2 > 1e-3) { idx.push(s2); wt.push(f32(Math.min(Math.min(f2 - s2, 1), cell) / cell)); }
    taps.push({idx, wt});
  }
  return taps;
}

// OpenCV's integer-factor shortcut for INTER_AREA: a plain box mean, rounded as it rounds.
function areaFast(img, k) {
  const {data, width: sw} = img, dw = Math.floor(img.width / k), dh = Math.floor(img.height / k), out = new Uint8Array(dw * dh * 3);
  const area = k * k, inv = Math.fround(1 / area);
  for (let y = 0; y < dh; y++) for (let x = 0; x < dw; x++) for (let c = 0; c < 3; c++) {
    let sum = 0;
    for (let j = 0; j < k; j++) for (let i = 0; i < k; i++) sum += data[((y * k + j) * sw + x * k + i) * 3 + c];
    out[(y * dw + x) * 3 + c] = k === 2 ? (sum + 2) >> 2 : roundHalfEven(Math.fround(sum * inv));
  }
  return {data: out, width: dw, height: dh};
}

// Resize a 3-channel uint8 image; area: INTER_AREA (for shrinking), else INTER_LINEAR.
export function resize(img, dw, dh, area) {
  const {data, width: sw, height: sh} = img, out = new Uint8Array(dw * dh * 3);
  if (dw === sw && dh === sh) return {data: data.slice(), width: dw, height: dh};
  if (area) {
    const kx = sw / dw, ky = sh / dh;
    if (kx === ky && Number.isInteger(kx) && sw % dw === 0 && sh % dh === 0) return areaFast(img, kx);
    const tx = areaTaps(sw, dw), ty = areaTaps(sh, dh), f32 = Math.fround;
    const tmp = new Float32Array(sh * dw * 3);  // rows of the input, columns of the output
    for (let y = 0; y < sh; y++) for (let x = 0; x < dw; x++) for (let c = 0; c < 3; c++) {
      let v = 0; const t = tx[x];
      for (let k = 0; k < t.idx.length; k++) v = f32(v + f32(data[(y * sw + t.idx[k]) * 3 + c] * t.wt[k]));
      tmp[(y * dw + x) * 3 + c] = v;
    }
    for (let y = 0; y < dh; y++) for (let x = 0; x < dw; x++) for (let c = 0; c < 3; c++) {
      let v = 0; const t = ty[y];
      for (let k = 0; k < t.idx.length; k++) v = f32(v + f32(tmp[(t.idx[k] * dw + x) * 3 + c] * t.wt[k]));
      out[(y * dw + x) * 3 + c] = Math.min(255, Math.max(0, roundHalfEven(v)));
    }
  } else {
    // OpenCV's fixed-point arithmetic for 8-bit images: 11-bit weights per pass, the vertical pass
    // rounded as its SIMD code does, so the pixels match cv2's, not just come close.
    const tx = linearTaps(sw, dw, false), ty = linearTaps(sh, dh, true);
    const q = (w) => [roundHalfEven(Math.fround(1 - w) * 2048), roundHalfEven(w * 2048)];
    const itmp = new Int32Array(sh * dw * 3), a0 = new Int32Array(dw), a1 = new Int32Array(dw);
    for (let x = 0; x < dw; x++) [a0[x], a1[x]] = q(tx.w[x]);
    for (let y = 0; y < sh; y++) {  // row by row: the order the pixels lie in memory
      const row = y * sw * 3, drow = y * dw * 3;
      for (let x = 0; x < dw; x++) {
        const a = row + tx.i0[x] * 3, b = row + tx.i1[x] * 3, d = drow + x * 3, w0 = a0[x], w1 = a1[x];
        itmp[d] = data[a] * w0 + data[b] * w1;
        itmp[d + 1] = data[a + 1] * w0 + data[b + 1] * w1;
        itmp[d + 2] = data[a + 2] * w0 + data[b + 2] * w1;
      }
    }
    for (let y = 0; y < dh; y++) {
      const r0 = ty.i0[y] * dw * 3, r1 = ty.i1[y] * dw * 3, [b0, b1] = q(ty.w[y]);
      for (let x = 0; x < dw * 3; x++) {
        const v = (((b0 * (itmp[r0 + x] >> 4)) >> 16) + ((b1 * (itmp[r1 + x] >> 4)) >> 16) + 2) >> 2;
        out[y * dw * 3 + x] = Math.min(255, Math.max(0, v));
      }
    }
  }
  return {data: out, width: dw, height: dh};
}

// ---- boxes ----
function iou(a, b) {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]), h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h, union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

function insideShare(a, b) {  // the share of box a inside box b
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]), h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  const area = (a[2] - a[0]) * (a[3] - a[1]);
  return w > 0 && h > 0 && area > 0 ? (w * h) / area : 0;
}

// cv2.dnn.NMSBoxes: indices of the kept boxes, best score first (scores > threshold).
export function nms(boxes, scores, scoreThreshold, iouThreshold) {
  const order = [...scores.keys()].filter((i) => scores[i] > scoreThreshold).sort((i, j) => scores[j] - scores[i] || i - j);
  const keep = [];
  for (const i of order) if (keep.every((k) => iou(boxes[i], boxes[k]) <= iouThreshold)) keep.push(i);
  return keep;
}

// ---- face detector (RetinaFace) ----
function makePriors(ph, pw, strides, anchorSizes) {
  const out = [];
  strides.forEach((stride, level) => {
    const fh = Math.ceil(ph / stride), fw = Math.ceil(pw / stride);
    for (let y = 0; y < fh; y++) for (let x = 0; x < fw; x++)
      for (const s of anchorSizes[level]) out.push([(x + 0.5) * stride / pw, (y + 0.5) * stride / ph, s / pw, s / ph]);
  });
  return out;
}

export class FaceDetector {
  constructor(session, cfg) { this.session = session; this.cfg = cfg; this.priors = new Map(); }

  scalesFor(h, w) {
    const c = this.cfg, longest = Math.max(h, w), shortest = Math.min(h, w);
    const fine = longest ? Math.min(c.upscale, c.max_side / longest) : 1;
    const coarse = shortest ? c.coarse_side / shortest : fine;
    if (!c.pyramid || shortest * fine <= c.one_pass_max_face_px || coarse >= fine * 0.9) return [[fine, 0, Infinity]];
    const fineMax = c.fine_max_face_px / fine;
    return [[fine, 0, fineMax], [coarse, Math.min(c.coarse_min_face_px / coarse, 0.8 * fineMax), Infinity]];
  }

  async detect(img, threshold) {
    const passes = [];
    for (const level of this.scalesFor(img.height, img.width)) passes.push(await this.detectAt(img, threshold, ...level));
    let found = passes.flatMap((p, k) => p.map((f) => ({...f, level: k})));
    if (passes.length > 1 && found.length) {
      const idx = nms(found.map((f) => f.box), found.map((f) => f.score), 0, this.cfg.nms_iou);
      const kept = idx.map((i) => found[i]), coarse = kept.filter((f) => f.level > 0);
      found = kept.filter((f) => f.level > 0 || !coarse.some((g) => insideShare(f.box, g.box) >= this.cfg.inside_share));
    }
    const out = [];
    for (const f of found) {
      const b = [Math.min(Math.max(f.box[0], 0), img.width), Math.min(Math.max(f.box[1], 0), img.height),
                 Math.min(Math.max(f.box[2], 0), img.width), Math.min(Math.max(f.box[3], 0), img.height)];
      if (b[2] - b[0] >= 1 && b[3] - b[1] >= 1) out.push({box: b, score: f.score});
    }
    return out.sort((a, b) => b.score - a.score);
  }

  async detectAt(img, threshold, scale, minH, maxH) {
    const c = this.cfg, nh = Math.max(1, roundHalfEven(img.height * scale)), nw = Math.max(1, roundHalfEven(img.width * scale));
    const r = resize(img, nw, nh, scale < 1);
    const ph = Math.ceil(nh / 32) * 32, pw = Math.ceil(nw / 32) * 32, plane = ph * pw;
    const blob = new Float32Array(3 * plane);  // padding: the mean colour, 0 after subtraction
    for (let y = 0; y < nh; y++) for (let x = 0; x < nw; x++) for (let ch = 0; ch < 3; ch++)
      blob[ch * plane + y * pw + x] = r.data[(y * nw + x) * 3 + ch] - c.mean_bgr[ch];
    const feeds = {[this.session.inputNames[0]]: new this.ort.Tensor("float32", blob, [1, 3, ph, pw])};
    const res = await this.session.run(feeds);
    const loc = res.loc.data, conf = res.conf.data, n = res.conf.dims[1];
    const key = ph + "x" + pw;
    if (!this.priors.has(key)) { if (this.priors.size > 16) this.priors.clear(); this.priors.set(key, makePriors(ph, pw, c.strides, c.anchor_sizes)); }
    const priors = this.priors.get(key), [v0, v1] = c.variances, boxes = [], scores = [];
    for (let i = 0; i < n; i++) {
      const s = conf[i * 2 + 1];
      if (!(s > threshold)) continue;
      const p = priors[i], cx = p[0] + loc[i * 4] * v0 * p[2], cy = p[1] + loc[i * 4 + 1] * v0 * p[3];
      const w = p[2] * Math.exp(loc[i * 4 + 2] * v1), h = p[3] * Math.exp(loc[i * 4 + 3] * v1);
      boxes.push([(cx - w / 2) * pw, (cy - h / 2) * ph, (cx + w / 2) * pw, (cy + h / 2) * ph]);
      scores.push(s);
    }
    const [a0, a1, a2, a3] = c.box_adjust, out = [];
    for (const i of nms(boxes, scores, threshold, c.nms_iou)) {
      const b = boxes[i].map((v) => v / scale), bw = b[2] - b[0], bh = b[3] - b[1];
      const box = [b[0] + a0 * bw, b[1] + a1 * bh, b[2] + a2 * bw, b[3] + a3 * bh], height = box[3] - box[1];
      if (height >= minH && height < maxH) out.push({box, score: scores[i]});
    }
    return out;
  }
}

// ---- mask classifier ----
export function squareCropBox(box, margin) {
  const cx = (box[0] + box[2]) / 2, cy = (box[1] + box[3]) / 2;
  const half = Math.max(Math.max(box[2] - box[0], box[3] - box[1]) * (1 + 2 * margin), 2) / 2;
  return [roundHalfEven(cx - half), roundHalfEven(cy - half), roundHalfEven(cx + half), roundHalfEven(cy + half)];
}

// crops.crop_face: a square around the box grown by the margin, edges replicated off-image.
export function cropFace(img, box, margin, size) {
  const [x1, y1, x2, y2] = squareCropBox(box, margin), W = img.width, H = img.height;
  if (Math.min(x2, W) <= Math.max(x1, 0) || Math.min(y2, H) <= Math.max(y1, 0)) return {data: new Uint8Array(size * size * 3), width: size, height: size};
  const cw = x2 - x1, ch = y2 - y1, data = new Uint8Array(cw * ch * 3);
  for (let y = 0; y < ch; y++) {
    const sy = Math.min(Math.max(y1 + y, 0), H - 1);
    for (let x = 0; x < cw; x++) {
      const sx = Math.min(Math.max(x1 + x, 0), W - 1), s = (sy * W + sx) * 3, d = (y * cw + x) * 3;
      data[d] = img.data[s]; data[d + 1] = img.data[s + 1]; data[d + 2] = img.data[s + 2];
    }
  }
  return resize({data, width: cw, height: ch}, size, size, ch > size);
}

export class MaskClassifier {
  constructor(session, cfg) { this.session = session; this.cfg = cfg; }

  async run(x, n) {
    const s = this.cfg.input_size, feeds = {[this.session.inputNames[0]]: new this.ort.Tensor("float32", x, [n, s, s, 3])};
    const out = await this.session.run(feeds);
    return out[this.session.outputNames[0]].data;
  }

  // Per box: {probs (mask classes), face (probability the box holds a face)}.
  async predict(img, boxes, flip) {
    const c = this.cfg, s = c.input_size, k = c.model_labels.length, nf = c.model_labels.indexOf("not_a_face");
    if (!boxes.length) return [];
    const x = new Float32Array(boxes.length * s * s * 3);
    boxes.forEach((b, i) => x.set(cropFace(img, b, c.margin, s).data, i * s * s * 3));
    const p = Array.from({length: boxes.length}, () => null);
    const raw = await this.run(x, boxes.length);
    for (let i = 0; i < boxes.length; i++) p[i] = Array.from(raw.subarray(i * k, (i + 1) * k));
    if (flip) {  // a mirrored second look where the mask class is unsure (and, with not_a_face, only for faces)
      const unsure = [];
      p.forEach((row, i) => {
        const mask = row.filter((_, j) => j !== nf), sum = mask.reduce((a, b) => a + b, 0);
        if (Math.max(...mask) < c.flip_below * sum && (nf < 0 || row[nf] < 0.5)) unsure.push(i);
      });
      if (unsure.length) {
        const m = new Float32Array(unsure.length * s * s * 3);
        unsure.forEach((i, u) => {
          for (let y = 0; y < s; y++) for (let xx = 0; xx < s; xx++) for (let ch = 0; ch < 3; ch++)
            m[((u * s + y) * s + xx) * 3 + ch] = x[((i * s + y) * s + (s - 1 - xx)) * 3 + ch];
        });
        const r2 = await this.run(m, unsure.length);
        unsure.forEach((i, u) => { p[i] = p[i].map((v, j) => (v + r2[u * k + j]) / 2); });
      }
    }
    return p.map((row) => {
      if (nf < 0) return {probs: row, face: 1};
      const mask = row.filter((_, j) => j !== nf), sum = Math.max(mask.reduce((a, b) => a + b, 0), 1e-6);
      return {probs: mask.map((v) => v / sum), face: 1 - row[nf]};
    });
  }
}

// face_score.py: the detector's score times the face probability, trusted by the box's height.
export function faceScore(det, face, height, trust) {
  const [lo, hi] = trust;
  let w = 1;
  if (hi > lo) w = Math.min(1, Math.max(0, (height - lo) / (hi - lo)));
  else if (lo > 0) w = height > lo ? 1 : 0;
  return det * Math.pow(Math.min(Math.max(face, 1e-9), 1), w);
}

const r1 = (v) => Math.round(v * 10) / 10, r4 = (v) => Math.round(v * 1e4) / 1e4;

// One photo, as `maskwatch image --json` gives it.
export class Pipeline {
  static async load(ort, base, cfg) {
    const opts = {executionProviders: ["wasm"], graphOptimizationLevel: "all"};
    const get = async (name) => new Uint8Array(await (await fetch(base + name)).arrayBuffer());
    const det = new FaceDetector(await ort.InferenceSession.create(await get(cfg.files.detector), opts), cfg.detector);
    const cls = new MaskClassifier(await ort.InferenceSession.create(await get(cfg.files.classifier), opts), cfg.classifier);
    det.ort = cls.ort = ort;
    const pipeline = new Pipeline(det, cls, cfg);
    // A first run compiles the wasm kernels: do it now, not on the camera's first frames.
    await pipeline.faces({data: new Uint8Array(64 * 64 * 3), width: 64, height: 64}, "video");
    await cls.predict({data: new Uint8Array(64 * 64 * 3), width: 64, height: 64}, [[8, 8, 56, 56]], false);
    return pipeline;
  }

  constructor(detector, classifier, cfg) { this.detector = detector; this.classifier = classifier; this.cfg = cfg; }

  // mode: "photo" or "video" (config.json's operating points; video labels with mask classes only).
  async faces(img, mode = "photo") {
    const op = this.cfg.modes[mode], labels = this.cfg.classifier.labels;
    const saved = this.detector.cfg;
    this.detector.cfg = {...saved, upscale: op.upscale};
    let found;
    try { found = await this.detector.detect(img, op.conf); } finally { this.detector.cfg = saved; }
    const preds = await this.classifier.predict(img, found.map((f) => f.box), op.flip);
    const out = [];
    found.forEach((f, i) => {
      const {probs, face} = preds[i];
      const fs = op.use_faceness ? faceScore(f.score, face, f.box[3] - f.box[1], this.cfg.face_score_trust) : f.score;
      if (op.use_faceness && fs < op.conf) return;
      let k = 0; probs.forEach((v, j) => { if (v > probs[k]) k = j; });
      out.push({box: f.box.map(r1), face_score: r4(fs), label: labels[k], score: r4(probs[k]),
                probs: Object.fromEntries(labels.map((l, j) => [l, r4(probs[j])]))});
    });
    return out;
  }
}

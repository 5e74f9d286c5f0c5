// The page's tracker: one person counted once. Not ByteTrack (the Python video path's): a greedy
// IoU tracker with constant-velocity prediction, simple enough for every frame of a phone camera.
// A detection joins the track whose predicted box overlaps it most (IoU >= iou) or, failing any
// overlap (a slow device analyses few frames, and a walking face moves far between them), whose
// predicted centre is nearest, within max_jump face heights, at a like height (a factor 1.5);
// a track unseen for lost_frames frames ends. As in `maskwatch video` (config.json "tracker", from the package's
// TrackerConfig): a track counts as a person after min_observations classified frames, its live
// label is its smoothed class probabilities once one reaches `confident`, and the person is
// counted under the class with the highest mean probability over all frames.

function jump(a, b) {  // centre distance in face heights, or Infinity for unlike heights
  const ha = a[3] - a[1], hb = b[3] - b[1];
  if (Math.max(ha, hb) > 1.5 * Math.min(ha, hb)) return Infinity;
  return Math.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2) / Math.max(ha, hb, 1);
}

function iou(a, b) {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]), h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

export class Tracker {
  constructor(cfg, labels, weights) {
    this.cfg = cfg; this.labels = labels; this.weights = weights; this.tracks = []; this.nextId = 1; this.frame = 0;
    this.people = 0; this.byLabel = Object.fromEntries(labels.map((l) => [l, 0]));
  }

  balanced(probs) {  // the classifier's training mix divided out (class prior "balanced")
    if (!this.weights) return probs;
    const p = probs.map((v, j) => v * this.weights[j]), s = p.reduce((a, b) => a + b, 0) || 1;
    return p.map((v) => v / s);
  }

  predicted(t) {
    const gap = this.frame - t.seen;
    return t.box.map((v, j) => v + t.velocity[j] * gap);
  }

  // faces: this frame's detections ({box, probs}); returns the live tracks.
  update(faces) {
    this.frame++;
    const c = this.cfg, pairs = [];
    this.tracks.forEach((t, ti) => faces.forEach((f, fi) => {
      const p = this.predicted(t), v = iou(p, f.box), d = jump(p, f.box);
      if (v >= c.iou) pairs.push([1 + v, ti, fi]);  // overlaps first, then the nearest centres
      else if (d <= c.max_jump) pairs.push([1 - d / c.max_jump, ti, fi]);
    }));
    pairs.sort((a, b) => b[0] - a[0]);
    const usedT = new Set(), usedF = new Set();
    for (const [, ti, fi] of pairs) {
      if (usedT.has(ti) || usedF.has(fi)) continue;
      usedT.add(ti); usedF.add(fi);
      const t = this.tracks[ti], f = faces[fi], gap = this.frame - t.seen;
      t.velocity = f.box.map((v, j) => 0.5 * t.velocity[j] + 0.5 * (v - t.box[j]) / gap);
      t.box = f.box; t.seen = this.frame; this.observe(t, f);
    }
    faces.forEach((f, fi) => {
      if (usedF.has(fi)) return;
      const t = {id: this.nextId++, box: f.box, velocity: [0, 0, 0, 0], seen: this.frame, n: 0, smooth: null, sum: null, label: null, counted: false};
      this.observe(t, f); this.tracks.push(t);
    });
    for (const t of this.tracks) if (this.frame - t.seen >= c.lost_frames) this.finish(t);
    this.tracks = this.tracks.filter((t) => this.frame - t.seen < c.lost_frames);
    return this.tracks.filter((t) => t.seen === this.frame);
  }

  observe(t, f) {
    const p = this.balanced(f.probs), c = this.cfg;
    t.n++;
    t.smooth = t.smooth ? t.smooth.map((v, j) => (1 - c.smoothing) * v + c.smoothing * p[j]) : p.slice();
    t.sum = t.sum ? t.sum.map((v, j) => v + p[j]) : p.slice();
    const k = t.smooth.indexOf(Math.max(...t.smooth));
    if (t.n >= c.label_after && (t.label === null ? t.smooth[k] >= c.confident : k !== this.labels.indexOf(t.label) && t.smooth[k] >= c.switch)) t.label = this.labels[k];
    if (!t.counted && t.n >= c.min_observations) { t.counted = true; this.people++; }
  }

  finish(t) {  // the person is counted under their mean label when the track ends
    if (t.counted && !t.finished) { t.finished = true; this.byLabel[this.labels[t.sum.indexOf(Math.max(...t.sum))]]++; }
  }

  // People so far: every counted track; those still live by their mean label so far.
  counts() {
    const out = {...this.byLabel};
    for (const t of this.tracks) if (t.counted && !t.finished) out[this.labels[t.sum.indexOf(Math.max(...t.sum))]]++;
    return {people: this.people, ...out};
  }
}

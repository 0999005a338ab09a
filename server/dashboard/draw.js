// draw.js — draws an :annotate answer (see the contract in server/task.h) over the image on a
// canvas, and lists it (labels with bars) in an <ol>. Coordinates in answers are normalized
// to 0..1 of the original image, so they scale to whatever size the canvas shows it at.
// Everything from the server goes into the page as text or pixels, never as HTML.

const COLORS = ['#ff3b30', '#34c759', '#0a84ff', '#ffcc00', '#af52de', '#ff9500', '#5ac8fa', '#ff2d55'];
// COCO keypoint skeleton (movenet's 17 names), by name so the order of the answer is free.
const SKELETON = [
  ['left_ear', 'left_eye'], ['left_eye', 'nose'], ['nose', 'right_eye'], ['right_eye', 'right_ear'],
  ['left_shoulder', 'right_shoulder'], ['left_shoulder', 'left_elbow'], ['left_elbow', 'left_wrist'],
  ['right_shoulder', 'right_elbow'], ['right_elbow', 'right_wrist'], ['left_shoulder', 'left_hip'],
  ['right_shoulder', 'right_hip'], ['left_hip', 'right_hip'], ['left_hip', 'left_knee'],
  ['left_knee', 'left_ankle'], ['right_hip', 'right_knee'], ['right_knee', 'right_ankle'],
];
export const POSE_MIN_SCORE = 0.2;
// One-channel masks are tinted blue: people in photos are rarely blue, so the tint shows.
const MASK_TINT = [10, 132, 255];

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function pct(v) {
  return (100 * v).toFixed(1) + '%';
}

function tag(g, text, x, y, color) {
  g.font = 'bold 13px "DejaVu Sans", sans-serif';
  const w = g.measureText(text).width + 8;
  const h = 17;
  const ty = y - h < 0 ? y : y - h;
  g.fillStyle = color;
  g.fillRect(x, ty, w, h);
  g.fillStyle = '#000';
  g.textBaseline = 'middle';
  g.fillText(text, x + 4, ty + h / 2 + 1);
}

function hexRgb(c) {
  const n = parseInt(c.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('the mask is not a PNG the browser can decode'));
    img.src = src;
  });
}

// The mask PNG (8-bit gray, model resolution) -> a tinted RGBA canvas of the same size:
// multi-class masks hold the class index (background left clear), one-channel masks the
// probability * 255 (used as the tint's opacity).
async function maskCanvas(mask) {
  const img = await loadImage('data:image/png;base64,' + mask.png);
  const w = img.naturalWidth;
  const h = img.naturalHeight;
  const src = document.createElement('canvas');
  src.width = w;
  src.height = h;
  const sg = src.getContext('2d', { willReadFrequently: true });
  sg.drawImage(img, 0, 0);
  const px = sg.getImageData(0, 0, w, h);
  const labels = Array.isArray(mask.labels) ? mask.labels : [];
  const oneChannel = labels.length <= 1;
  const d = px.data;
  for (let i = 0; i < d.length; i += 4) {
    const v = d[i]; // gray PNG: R = G = B
    let rgb;
    let a;
    if (oneChannel) {
      rgb = MASK_TINT;
      a = Math.round(v * 0.6);
    } else {
      const bg = v >= labels.length || /^background$/i.test(String(labels[v]));
      rgb = hexRgb(COLORS[v % COLORS.length]);
      a = bg ? 0 : 150;
    }
    d[i] = rgb[0];
    d[i + 1] = rgb[1];
    d[i + 2] = rgb[2];
    d[i + 3] = a;
  }
  sg.putImageData(px, 0, 0);
  return src;
}

function barItem(list, label, value, text) {
  const li = document.createElement('li');
  const name = document.createElement('span');
  name.className = 'label';
  name.textContent = label;
  const bar = document.createElement('span');
  bar.className = 'bar';
  bar.setAttribute('aria-hidden', 'true');
  const fill = document.createElement('i');
  fill.style.width = Math.max(0, Math.min(1, value || 0)) * 100 + '%';
  bar.append(fill);
  const score = document.createElement('span');
  score.className = 'score';
  score.textContent = text;
  li.append(name, bar, score);
  list.append(li);
}

// Draws `answer` over what is already on the canvas (the image, w x h CSS pixels = canvas
// pixels) and fills `list`. Answers the number of things drawn.
export async function drawAnswer(canvas, list, answer) {
  const g = canvas.getContext('2d');
  const w = canvas.width;
  const h = canvas.height;
  list.replaceChildren();
  let drawn = 0;
  const task = answer && answer.task;
  if (task === 'classification') {
    const classes = Array.isArray(answer.classes) ? answer.classes : [];
    for (const c of classes) barItem(list, String(c.label), num(c.score), num(c.score) === null ? '' : pct(c.score));
    if (classes.length) {
      const top = classes[0];
      tag(g, `${top.label} ${pct(num(top.score) || 0)}`, 6, 6, '#ffcc00');
      drawn = classes.length;
    }
  } else if (task === 'detection') {
    const dets = Array.isArray(answer.detections) ? answer.detections : [];
    g.lineWidth = Math.max(2, Math.round(Math.min(w, h) / 200));
    dets.forEach((d, i) => {
      const color = COLORS[i % COLORS.length];
      const b = d.box || {};
      const [bx, by, bw, bh] = [num(b.x), num(b.y), num(b.width), num(b.height)];
      barItem(list, String(d.label), num(d.score), num(d.score) === null ? '' : pct(d.score));
      if (bx === null || by === null || bw === null || bh === null) return;
      g.strokeStyle = color;
      g.strokeRect(bx * w, by * h, bw * w, bh * h);
      tag(g, `${d.label} ${pct(num(d.score) || 0)}`, bx * w, by * h, color);
      for (const k of Array.isArray(d.keypoints) ? d.keypoints : []) {
        if (num(k.x) === null || num(k.y) === null) continue;
        g.fillStyle = color;
        g.beginPath();
        g.arc(k.x * w, k.y * h, Math.max(2.5, g.lineWidth), 0, 2 * Math.PI);
        g.fill();
      }
      drawn++;
    });
    if (!dets.length) barItem(list, 'nothing detected', 0, '');
  } else if (task === 'segmentation') {
    const m = answer.mask;
    if (m && typeof m.png === 'string') {
      const tinted = await maskCanvas(m);
      g.imageSmoothingEnabled = true;
      g.drawImage(tinted, 0, 0, w, h);
      drawn = 1;
    }
    for (const a of Array.isArray(answer.areas) ? answer.areas : [])
      barItem(list, String(a.label), num(a.fraction), num(a.fraction) === null ? '' : pct(a.fraction) + ' of image');
  } else if (task === 'pose') {
    const kps = Array.isArray(answer.keypoints) ? answer.keypoints : [];
    const byName = new Map();
    for (const k of kps) {
      barItem(list, String(k.name), num(k.score), num(k.score) === null ? '' : (+k.score).toFixed(2));
      if (num(k.x) !== null && num(k.y) !== null && (num(k.score) === null || k.score >= POSE_MIN_SCORE)) byName.set(k.name, k);
    }
    g.lineWidth = Math.max(2, Math.round(Math.min(w, h) / 160));
    g.strokeStyle = '#34c759';
    for (const [a, b] of SKELETON) {
      const p = byName.get(a);
      const q = byName.get(b);
      if (!p || !q) continue;
      g.beginPath();
      g.moveTo(p.x * w, p.y * h);
      g.lineTo(q.x * w, q.y * h);
      g.stroke();
    }
    // a white ring keeps a red dot visible on red clothes
    g.lineWidth = 1.5;
    g.strokeStyle = '#ffffff';
    for (const k of byName.values()) {
      g.fillStyle = '#ff3b30';
      g.beginPath();
      g.arc(k.x * w, k.y * h, Math.max(4, Math.round(Math.min(w, h) / 120)), 0, 2 * Math.PI);
      g.fill();
      g.stroke();
      drawn++;
    }
  } else {
    throw new Error(`the answer has no task this page knows (task: ${JSON.stringify(task)})`);
  }
  return drawn;
}

// chart.js — a small time-series line chart on <canvas>: the last `windowS` seconds, y from 0
// to a rounded maximum, one line per series, gaps where a value is null (no requests in that
// interval has no latency). The legend is HTML next to the canvas so screen readers get it.
//
// The canvas also reports what it shows, for people using tools and for the browser tests:
// data-last (latest value of the chart's headline series), data-max (its maximum in the
// window) and data-samples (how many points it has); empty strings until there is data.

export const PALETTE = ['#0969da', '#cf222e', '#1a7f37', '#8250df', '#bc4c00', '#0a7e8c', '#bf3989', '#6e7781'];

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  // Tops whose quarter is a short number (gridlines every quarter).
  for (const m of [1, 1.2, 1.6, 2, 3, 4, 6, 8, 10]) if (v <= m * p + 1e-12) return m * p;
  return 10 * p;
}

function fmt(v) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return (v / 1000).toFixed(a >= 10000 ? 0 : 1) + 'k';
  if (a >= 10) return v.toFixed(0);
  if (a >= 1) return v.toFixed(1);
  return v.toPrecision(2);
}

export class Chart {
  constructor(canvas, legend, { windowS = 120, empty = 'no data yet' } = {}) {
    this.canvas = canvas;
    this.legend = legend;
    this.windowS = windowS;
    this.empty = empty;
    this.series = []; // [{label, color, points: [[tMs, v|null]]}]
    this.headline = null; // points of the series data-* report
  }

  // series: [{label, color, points}]; headline: points whose last/max the canvas reports.
  set(series, headline, empty) {
    this.series = series;
    this.headline = headline;
    if (empty) this.empty = empty;
    const vals = (headline || []).map((p) => p[1]).filter((v) => v !== null && Number.isFinite(v));
    const c = this.canvas;
    c.dataset.samples = String(vals.length);
    c.dataset.last = vals.length ? String(vals[vals.length - 1]) : '';
    c.dataset.max = vals.length ? String(Math.max(...vals)) : '';
    this.renderLegend();
    this.draw();
  }

  renderLegend() {
    const el = this.legend;
    if (!el) return;
    el.replaceChildren();
    for (const s of this.series) {
      const span = document.createElement('span');
      span.style.setProperty('--c', s.color);
      const last = [...s.points].reverse().find((p) => p[1] !== null);
      span.textContent = s.label + (last ? ': ' + fmt(last[1]) : '');
      el.append(span);
    }
  }

  draw(now = Date.now()) {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(50, Math.round(c.clientWidth || 300));
    const h = Math.max(50, Math.round(c.clientHeight || 150));
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = '11px "DejaVu Sans", sans-serif';
    const left = 40;
    const right = 8;
    const top = 8;
    const bottom = 18;
    const pw = w - left - right;
    const ph = h - top - bottom;
    const t0 = now - this.windowS * 1000;
    let max = 0;
    let any = false;
    for (const s of this.series)
      for (const [t, v] of s.points)
        if (t >= t0 && v !== null && Number.isFinite(v)) {
          any = true;
          max = Math.max(max, v);
        }
    const ymax = niceMax(max);
    // grid and y labels
    g.strokeStyle = '#d0d7de';
    g.fillStyle = '#57606a';
    g.lineWidth = 1;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const y = top + ph - (ph * i) / 4;
      g.beginPath();
      g.moveTo(left, Math.round(y) + 0.5);
      g.lineTo(left + pw, Math.round(y) + 0.5);
      g.stroke();
      g.fillText(fmt((ymax * i) / 4), left - 4, y);
    }
    g.textAlign = 'left';
    g.textBaseline = 'alphabetic';
    g.fillText(`-${this.windowS}s`, left, h - 4);
    g.textAlign = 'right';
    g.fillText('now', left + pw, h - 4);
    if (!any) {
      g.textAlign = 'center';
      g.textBaseline = 'middle';
      g.fillText(this.empty, left + pw / 2, top + ph / 2);
      return;
    }
    const x = (t) => left + ((t - t0) / (this.windowS * 1000)) * pw;
    const y = (v) => top + ph - (v / ymax) * ph;
    g.lineWidth = 2;
    g.lineJoin = 'round';
    for (const s of this.series) {
      g.strokeStyle = s.color;
      g.fillStyle = s.color;
      g.beginPath();
      let pen = false;
      let lone = null;
      for (const [t, v] of s.points) {
        if (t < t0 || v === null || !Number.isFinite(v)) {
          if (lone) g.fillRect(lone[0] - 1.5, lone[1] - 1.5, 3, 3); // a point between gaps
          pen = false;
          lone = null;
          continue;
        }
        if (pen) {
          g.lineTo(x(t), y(v));
          lone = null;
        } else {
          g.moveTo(x(t), y(v));
          lone = [x(t), y(v)];
        }
        pen = true;
      }
      if (lone) g.fillRect(lone[0] - 1.5, lone[1] - 1.5, 3, 3);
      g.stroke();
    }
  }
}

// prom.js — the Prometheus text format (what GET /metrics answers) and the arithmetic the
// charts need: per-interval deltas of counters and histogram quantiles computed the way
// Prometheus's histogram_quantile() does (linear interpolation inside the bucket that holds
// the rank; the +Inf bucket answers the largest finite bound).

// One sample per line: name{label="value",...} number. Comments and blank lines skipped; a
// line that does not parse is skipped too (one odd line must not blank every chart).
export function parse(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const s = parseLine(line);
    if (s) out.push(s);
  }
  return out;
}

function parseLine(line) {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!m) return null;
  const name = m[1];
  let i = name.length;
  const labels = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const km = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(i));
      if (!km) return null;
      i += km[0].length;
      let v = '';
      for (;;) {
        const c = line[i++];
        if (c === undefined) return null;
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i++];
          v += e === 'n' ? '\n' : e;
        } else {
          v += c;
        }
      }
      labels[km[1]] = v;
    }
  }
  const rest = line.slice(i).trim().split(/\s+/)[0];
  const value = rest === '+Inf' ? Infinity : rest === '-Inf' ? -Infinity : Number(rest);
  if (rest === '' || (Number.isNaN(value) && rest !== 'NaN')) return null;
  return { name, labels, value };
}

// buckets: [[le, cumulativeCount], ...] in any order (le may be Infinity). Answers null when
// the histogram is empty.
export function quantile(q, buckets) {
  const b = buckets.slice().sort((x, y) => x[0] - y[0]);
  if (!b.length) return null;
  const total = b[b.length - 1][1];
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of b) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      if (count === prevCount) return le;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / (count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

// A counter's increase between two scrapes; a series absent before started at 0 (the server
// creates series on first use), and a drop means the process restarted.
export function increase(prev, cur) {
  if (prev === undefined) return cur;
  return cur >= prev ? cur - prev : cur;
}

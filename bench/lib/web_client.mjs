// HTTP-level "browsers" and API clients for the login benchmarks: an undici Pool of keep-alive TLS connections per
// server (the server's certificate verified against the run's CA), a cookie jar per browser, the named inputs of a
// page's forms, and the resident memory of a server process (/proc).
import { readFileSync } from 'node:fs';
import { URLSearchParams } from 'node:url';
import { Pool } from 'undici';

const decodeEntities = (value) =>
  value
    .replace(/&#(\d+);/g, (_m, n) => String.fromCharCode(Number(n)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The named hidden and text inputs of a page's forms (entity-decoded); checkboxes are left out. */
export function inputsOf(html) {
  const out = {};
  for (const m of html.matchAll(/<input([^>]*)>/g)) {
    const attrs = m[1];
    if (/type="checkbox"/.test(attrs)) continue;
    const name = /name="([^"]+)"/.exec(attrs)?.[1];
    const value = /value="([^"]*)"/.exec(attrs)?.[1];
    if (name !== undefined && value !== undefined) out[name] = decodeEntities(value);
  }
  return out;
}

/** `VmRSS` and `VmHWM` (peak) of a process, in MiB. */
export function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

/** A pool of `connections` keep-alive TLS connections to `port` on 127.0.0.1, trusting `caPem`. */
export function connectTo(port, caPem, connections) {
  const origin = `https://127.0.0.1:${port}`;
  const pool = new Pool(origin, { connections, pipelining: 1, connect: { ca: caPem } });
  return {
    origin,
    pool,
    /** A form POST; the answer's status and JSON body ({} when empty). */
    async postForm(path, form) {
      const res = await pool.request({
        path,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      });
      const text = await res.body.text();
      return { status: res.statusCode, json: text ? JSON.parse(text) : {} };
    },
    async getJson(path) {
      const res = await pool.request({ path, method: 'GET' });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode}`);
      return JSON.parse(text);
    },
    /** A fresh browser: its own cookie jar over the shared connections. */
    browser() {
      return new Browser(pool, origin);
    },
    close: () => pool.close(),
  };
}

/** A person's browser at the HTTP level: a cookie jar (by name; every cookie sent to every path), no redirects. */
export class Browser {
  constructor(pool, origin) {
    this.pool = pool;
    this.origin = origin;
    this.jar = new Map();
  }

  async get(path) {
    return this.send({ path, method: 'GET' });
  }

  async post(path, form) {
    return this.send({
      path,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  }

  /**
   * Follows same-origin redirects with GET until a page (not a redirect) or a redirect elsewhere; returns that answer
   * (for a redirect elsewhere, `location` is the absolute URL).
   */
  async follow(page, limit = 10) {
    let current = page;
    for (let i = 0; i < limit && current.location !== undefined; i++) {
      const next = new URL(current.location, this.origin);
      if (next.origin !== this.origin) return current;
      current = await this.get(next.pathname + next.search);
    }
    return current;
  }

  async send(request) {
    const headers = { ...request.headers };
    if (this.jar.size > 0) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await this.pool.request({ ...request, headers });
    const body = await res.body.text();
    this.remember(res.headers['set-cookie']);
    const location = res.headers.location;
    return {
      status: res.statusCode,
      body,
      location: typeof location === 'string' ? new URL(location, this.origin).href : undefined,
      inputs: inputsOf(body),
    };
  }

  remember(value) {
    for (const cookie of value === undefined ? [] : Array.isArray(value) ? value : [value]) {
      const [pair, ...attributes] = cookie.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const content = pair.slice(at + 1).trim();
      const expired = attributes.some((a) => {
        const [k, v] = a.trim().split('=');
        if (k.toLowerCase() === 'max-age') return Number(v) <= 0;
        if (k.toLowerCase() === 'expires') return Date.parse(v) <= Date.now();
        return false;
      });
      if (content === '' || expired) this.jar.delete(name);
      else this.jar.set(name, content);
    }
  }
}

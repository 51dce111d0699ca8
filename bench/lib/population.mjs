/**
 * The simulated users of one run: their UAs, the registry of calls they share, and the
 * registration load (connect + digest REGISTER at a fixed number in flight).
 */
import { sleep } from './proc.mjs';
import { SipUa } from './sip-ua.mjs';
import { Failures, summarize } from './stats.mjs';

export const userName = (i) => `u${String(i).padStart(5, '0')}`;
/** Users 2i and 2i+1 call each other: the pairing the relay is given in its URLs. */
export const peerOf = (i) => (i % 2 === 0 ? i + 1 : i - 1);

/**
 * At most this many new sockets, then a pause long enough for their objects to hibernate.
 * A registering user's object is awake with its SQLite database open, and workerd caps
 * SQLite's memory for the whole process (512 MiB): around 2,800 awake Switchboard user
 * objects, the next ones fail with SQLITE_NOMEM. Real clients do not arrive 3,000 within
 * ten seconds on one process; the bench paces every target the same way.
 */
export const AWAKE_BATCH = 2000;
const HIBERNATE_MS = 11_000;

export class Population {
  /** @param o.expires the Expires the UAs register with (600, as JsSIP; the sparse scenario asks more) */
  constructor(target, { expires = 600 } = {}) {
    this.target = target;
    this.expires = expires;
    this.uas = [];
    this.calls = new Map();
    this.tally = { acks: 0, sdpMismatches: 0, unexpected: 0 };
  }

  ua(i) {
    const user = userName(i);
    return new SipUa({
      user,
      domain: this.target.domain,
      password: this.target.password(user),
      url: this.target.url(user, userName(peerOf(i))),
      calls: this.calls,
      tally: this.tally,
      expires: this.expires,
    });
  }

  /** Registers users [from, to) in batches of AWAKE_BATCH with a pause between them. */
  async registerPaced(from, to, { concurrency, serverCpuMs = () => 0 }) {
    const total = { users: to - from, registered: 0, failures: 0, failuresByCause: {}, seconds: 0, serverCpuMs: 0 };
    for (let start = from; start < to; start += AWAKE_BATCH) {
      if (start > from) await sleep(HIBERNATE_MS);
      const cpu0 = serverCpuMs();
      const r = await this.register(start, Math.min(to, start + AWAKE_BATCH), { concurrency });
      total.serverCpuMs += serverCpuMs() - cpu0;
      total.registered += r.registered;
      total.failures += r.failures;
      total.seconds += r.seconds;
      for (const [k, v] of Object.entries(r.failuresByCause)) total.failuresByCause[k] = (total.failuresByCause[k] ?? 0) + v;
    }
    total.registrationsPerSecond = Math.round((total.registered / total.seconds) * 10) / 10;
    return total;
  }

  /** Opens and registers users [from, to) with `concurrency` in flight; they stay open. */
  async register(from, to, { concurrency, serverCpuMs = () => 0 }) {
    const failures = new Failures();
    const latencies = [];
    let next = from;
    const cpu0 = serverCpuMs();
    const t0 = performance.now();
    const worker = async () => {
      while (next < to) {
        const i = next++;
        const ua = this.ua(i);
        const s = performance.now();
        try {
          await ua.connect();
          await ua.register();
          latencies.push(performance.now() - s);
          this.uas[i] = ua;
        } catch (err) {
          failures.add(err.cause ?? 'error');
          ua.close();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, to - from) }, worker));
    const elapsedS = (performance.now() - t0) / 1000;
    const cpu = serverCpuMs() - cpu0;
    const ok = latencies.length;
    return {
      users: to - from,
      registered: ok,
      concurrency,
      seconds: Math.round(elapsedS * 100) / 100,
      registrationsPerSecond: Math.round((ok / elapsedS) * 10) / 10,
      latencyMs: summarize(latencies),
      failures: failures.total,
      failuresByCause: failures.byCause,
      serverCpuMsPerRegistration: ok ? Math.round((cpu / ok) * 1000) / 1000 : null,
    };
  }

  /** Caller/callee pairs among registered users [0, n). */
  pairs(n) {
    const out = [];
    for (let i = 0; i + 1 < n; i += 2) if (this.uas[i] && this.uas[i + 1]) out.push([this.uas[i], this.uas[i + 1]]);
    return out;
  }

  get open() {
    return this.uas.filter((u) => u?.isOpen);
  }

  async closeAll() {
    const closing = this.uas.filter(Boolean).map(
      (ua) =>
        new Promise((resolve) => {
          if (!ua.isOpen) return resolve();
          ua.ws.once('close', resolve);
          ua.close();
          setTimeout(resolve, 5000);
        }),
    );
    await Promise.all(closing);
    this.uas = [];
  }
}

/**
 * The accumulator one `step` threads through the handlers: the state being rebuilt and the
 * effects being collected. It is local to a single call of `step`, so the core stays pure
 * from the outside.
 */
import type { AuthGuard } from './policy/auth-guard.js';
import type { Effect, StepContext, StepResult } from './io.js';
import { field, type HeaderField, type SipMessage, type SipRequest } from './message/message.js';
import { ownFields, own } from './message/grammar.js';
import { createResponse, type ResponseOptions } from './message/response.js';
import { serialize } from './message/serializer.js';
import type { MediaSummary } from './policy/sdp.js';
import type { Binding, Dialog, Fork, PendingTransaction, UserState } from './state.js';

/** In-dialog requests awaiting a response from this user's sockets, at most. */
export const MAX_PENDING_TRANSACTIONS = 64;

export class Step {
  state: UserState;
  readonly effects: Effect[] = [];

  constructor(
    state: UserState,
    readonly ctx: StepContext,
  ) {
    this.state = state;
  }

  send(conn: string, msg: SipMessage): void {
    this.effects.push({ type: 'send', conn, text: serialize(msg) });
  }

  /** Answers a request on the socket it came from; responses above 100 get a To tag (§8.2.6.2). */
  reply(conn: string, req: SipRequest, status: number, opts: ResponseOptions = {}): void {
    this.send(conn, createResponse(req, status, { toTag: this.ctx.newId(), ...opts }));
  }

  /** `initial`: a request out of any dialog, to a user this object may never have reached. */
  relayRequest(to: string, msg: SipRequest, media: MediaSummary | null = null, initial = false): void {
    this.effects.push({ type: 'relay-request', to, text: serialize(msg), ...(media ? { media } : {}), ...(initial ? { initial } : {}) });
  }

  relayResponse(to: string, msg: SipMessage, media: MediaSummary | null = null): void {
    this.effects.push({ type: 'relay-response', to, text: serialize(msg), ...(media ? { media } : {}) });
  }

  /** Sends a response upstream: to a peer's object, or to one of our sockets. */
  respondTo(target: { peer: string } | { conn: string }, msg: SipMessage): void {
    if ('peer' in target) this.relayResponse(target.peer, msg);
    else this.send(target.conn, msg);
  }

  /*
   * Records put into the state own their strings (grammar.ts `own`): they outlive the
   * message they were built from by seconds to hours, and must not keep it alive.
   */

  putBinding(b: Binding): void {
    const owned = ownFields(b, this.state.bindings.find((x) => x.id === b.id));
    this.state = { ...this.state, bindings: [...this.state.bindings.filter((x) => x.id !== b.id), owned] };
  }

  removeBindings(pred: (b: Binding) => boolean): Binding[] {
    const removed = this.state.bindings.filter(pred);
    if (removed.length > 0) this.state = { ...this.state, bindings: this.state.bindings.filter((b) => !pred(b)) };
    return removed;
  }

  putFork(f: Fork): void {
    const forks = this.state.forks;
    const idx = forks.findIndex((x) => x.id === f.id && x.method === f.method);
    const owned = ownFork(f, forks[idx]);
    this.state = { ...this.state, forks: idx < 0 ? [...forks, owned] : forks.map((x, i) => (i === idx ? owned : x)) };
  }

  removeFork(f: Fork): void {
    this.state = { ...this.state, forks: this.state.forks.filter((x) => !(x.id === f.id && x.method === f.method)) };
  }

  dialog(id: string): Dialog | undefined {
    return this.state.dialogs.find((d) => d.id === id);
  }

  putDialog(d: Dialog): void {
    const dialogs = this.state.dialogs;
    const idx = dialogs.findIndex((x) => x.id === d.id);
    const prev = dialogs[idx];
    const owned = ownFields(d, prev);
    // The sides are records of their own: their strings are owned too, once per change.
    if (owned !== prev) Object.assign(owned, { local: ownFields(d.local, prev?.local), remote: ownFields(d.remote, prev?.remote) });
    this.state = { ...this.state, dialogs: idx < 0 ? [...dialogs, owned] : dialogs.map((x, i) => (i === idx ? owned : x)) };
  }

  /** Drops a dialog from the live set. The adapter keeps its row as call history. */
  forgetDialog(id: string): void {
    this.state = { ...this.state, dialogs: this.state.dialogs.filter((d) => d.id !== id) };
  }

  /** Notes a request sent to a socket whose response must come back on that socket (bounded). */
  expectResponse(tx: PendingTransaction): void {
    const now = this.ctx.now;
    const kept = this.state.transactions.filter((t) => t.expiresAt > now && t.branch !== tx.branch);
    this.state = { ...this.state, transactions: [...kept.slice(-(MAX_PENDING_TRANSACTIONS - 1)), tx] };
  }

  /** The pending transaction a socket's response answers, or undefined: then it is not accepted. */
  pendingTransaction(branch: string, conn: string): PendingTransaction | undefined {
    return this.state.transactions.find((t) => t.branch === branch && t.conn === conn && t.expiresAt > this.ctx.now);
  }

  settleTransaction(branch: string): void {
    this.state = { ...this.state, transactions: this.state.transactions.filter((t) => t.branch !== branch) };
  }

  putGuard(guard: AuthGuard): void {
    if (guard !== this.state.guard) this.state = { ...this.state, guard };
  }

  result(): StepResult {
    return { state: this.state, effects: this.effects };
  }
}

/** A fork with its strings owned: the request's headers once, each branch when it changes. */
function ownFork(f: Fork, prev: Fork | undefined): Fork {
  if (f === prev) return f;
  const out = ownFields(f, prev);
  const base = prev && sameValues(f.base, prev.base) ? prev.base : f.base.map((h) => ({ name: h.name, key: h.key, value: own(h.value) }));
  const branches = f.branches.map((b, i) => {
    const p = prev?.branches[i];
    return ownFields(b, p && p.id === b.id ? p : undefined);
  });
  return { ...out, base, branches };
}

function sameValues(a: readonly HeaderField[], b: readonly HeaderField[]): boolean {
  return a === b || (a.length === b.length && a.every((h, i) => h.value === b[i]!.value && h.name === b[i]!.name));
}

export function warningHeader(domain: string, code: number, text: string): HeaderField {
  // Warning = warn-code SP warn-agent SP warn-text (§20.43)
  return field('Warning', `${code} ${domain} "${text.replace(/["\\]/g, '')}"`);
}

/**
 * What the runtime charges for the storage and timer operations the product's objects
 * do per call, one operation kind per request so that each can be priced on its own:
 * nothing (the event and the JS RPC alone), a transaction with one or two dialog rows
 * written by the product's own `UserStore.recordCall`, `setAlarm`, and an alarm that fires.
 * Bundled by bench/storage/run.mjs with esbuild and run under the same bare workerd as
 * `npm run bench`.
 */
import { DurableObject } from 'cloudflare:workers';
import { UserStore } from '../../durable-objects/user/store.js';
import type { Dialog } from '../../sip/state.js';

interface Env {
  OBJECTS: DurableObjectNamespace<StorageProbe>;
}

export type Mode = 'event' | 'dialog' | 'dialogs2' | 'set-alarm' | 'dialog-and-set-alarm' | 'alarm-fires';

/** A call record as the product writes it at the end of a short call (both SDPs summarised). */
function dialog(n: number, now: number): Dialog {
  const callId = `${n.toString(36)}-a84b4c76e66710a8f2c3d0`;
  return {
    id: `out:tag${n}:${callId}`,
    kind: 'call',
    callId,
    direction: 'out',
    peer: 'u0002',
    state: 'ended',
    conn: 'k3J9a0Qw2xZp',
    createdAt: now - 900,
    answeredAt: now - 700,
    endedAt: now,
    finalStatus: 200,
    endReason: 'caller-bye',
    requestUri: 'sip:u0002@bench.example',
    local: { nameAddr: `"u0001" <sip:u0001@bench.example>;tag=tag${n}`, tag: `tag${n}`, seq: 4, target: 'sip:h7d2k1q0@df7jal23ls0d.invalid;transport=ws;ob' },
    remote: { nameAddr: `<sip:u0002@bench.example>;tag=peer${n}`, tag: `peer${n}`, seq: null, target: 'sip:p0w9x8c7@9s8d7f6g5h4j.invalid;transport=ws;ob' },
    requestSeq: 1,
    branch: `z9hG4bK.u.${n.toString(36)}0a1b2c3d`,
    offer: { kinds: ['audio'], codecs: ['opus/48000/2', 'G722/8000', 'PCMU/8000', 'PCMA/8000'] },
    answer: { kinds: ['audio'], codecs: ['opus/48000/2'] },
    deadline: now + 32_000,
  };
}

export class StorageProbe extends DurableObject<Env> {
  private readonly store: UserStore;
  private n = 0;
  alarms = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new UserStore(ctx.storage);
    this.store.load();
  }

  /** One operation of `mode`, in this event's implicit transaction. */
  async op(mode: Mode): Promise<void> {
    const now = Date.now();
    switch (mode) {
      case 'event':
        return;
      case 'dialog':
      case 'dialog-and-set-alarm':
        this.write(1, now);
        if (mode === 'dialog-and-set-alarm') this.toggleAlarm(now);
        return;
      case 'dialogs2':
        this.write(2, now);
        return;
      case 'set-alarm':
        this.toggleAlarm(now);
        return;
      case 'alarm-fires':
        void this.ctx.storage.setAlarm(now + 1);
        return;
      default:
        throw new Error(`unknown mode ${String(mode)}`);
    }
  }

  /** Alarms fired in this object (to check that `alarm-fires` fired them all). */
  async fired(): Promise<number> {
    return this.alarms;
  }

  override async alarm(): Promise<void> {
    this.alarms++;
  }

  /** New dialogs, as a flush writes them; the live set is kept short as the core's is. */
  private write(count: number, now: number): void {
    for (let i = 0; i < count; i++) this.store.recordCall(dialog(this.n++, now));
  }

  /** A far alarm that really moves each time (an unchanged time may cost nothing). */
  private toggleAlarm(now: number): void {
    void this.ctx.storage.setAlarm(now + 600_000 + (this.n++ % 2) * 1000);
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const stub = env.OBJECTS.get(env.OBJECTS.idFromName(url.searchParams.get('object') ?? 'o'));
    if (url.pathname === '/fired') return new Response(String(await stub.fired()));
    await stub.op((url.searchParams.get('mode') ?? 'event') as Mode);
    return new Response('ok');
  },
} satisfies ExportedHandler<Env>;

/**
 * The other users' objects this one talks to: their stubs, and whether they exist at all.
 * An object addressed is an object created (with storage of its own), so a peer is asked
 * of the tenant's object first and a user the tenant does not have is never addressed.
 *
 * What the tenant said is kept for the whole isolate, not per object, so it outlives the
 * hibernation of the objects that asked: a user who calls every few minutes asks the
 * tenant once, not once per call. A "yes" is kept until it is pushed out (a user that
 * existed once has its object's storage already: addressing it again creates nothing,
 * and a deleted user's object answers 404 itself); a "no" lives 5 s, so a user created
 * meanwhile is reached soon. Both maps are bounded.
 */
import type { Env } from '../env.js';
import { userObject, tenantObject } from '../shared/names.js';
import { TtlMap } from '../shared/ttl-map.js';
import type { UserObject } from './user-object.js';

const MAX_PEERS = 1_000;
/** Tenant/user names the tenants' objects were asked about, for every user object of the isolate. */
const MAX_KNOWN = 50_000;
const known = new TtlMap<boolean>(MAX_KNOWN, Number.POSITIVE_INFINITY);

export class Peers {
  private readonly stubs = new Map<string, DurableObjectStub<UserObject>>();

  constructor(
    private readonly env: Env,
    private readonly tenant: () => string,
  ) {}

  exists(user: string): Promise<boolean> {
    const tenant = this.tenant();
    return known.get(`${tenant}/${user}`, async () => (await tenantObject(this.env, tenant).edgeUser(user)).exists, (v) => !v);
  }

  stub(user: string): DurableObjectStub<UserObject> {
    let stub = this.stubs.get(user);
    if (!stub) {
      if (this.stubs.size >= MAX_PEERS) this.stubs.clear();
      stub = userObject(this.env, this.tenant(), user);
      this.stubs.set(user, stub);
    }
    return stub;
  }

  /**
   * Asks `peer`'s object to look at its user's flow in the call `callId` with `me`. A
   * peer that cannot be reached is logged and left: its own close or the next ask will do.
   */
  async lookAtCall(peer: string, me: string, callId: string): Promise<void> {
    try {
      await this.stub(peer).lookAtCall({ tenant: this.tenant(), user: peer }, me, callId);
    } catch (err) {
      console.error('switchboard: look at a peer flow failed', peer, err instanceof Error ? err.message : err);
      this.drop(peer);
    }
  }

  /** The stub failed: the next call builds a new one. */
  drop(user: string): void {
    this.stubs.delete(user);
  }
}

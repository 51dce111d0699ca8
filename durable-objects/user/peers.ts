/**
 * The other users' objects this one talks to: their stubs, and whether they exist at all.
 * An object addressed is an object created (with storage of its own), so a peer is asked
 * of the tenant's object first (cached: 30 s, a miss 5 s) and a user the tenant does not
 * have is never addressed. Both maps are bounded.
 */
import type { Env } from '../env.js';
import { userObject, tenantObject } from '../shared/names.js';
import { TtlMap } from '../shared/ttl-map.js';
import type { UserObject } from './user-object.js';

const MAX_PEERS = 1_000;

export class Peers {
  private readonly stubs = new Map<string, DurableObjectStub<UserObject>>();
  private readonly known = new TtlMap<boolean>(MAX_PEERS);

  constructor(
    private readonly env: Env,
    private readonly tenant: () => string,
  ) {}

  exists(user: string): Promise<boolean> {
    const tenant = this.tenant();
    return this.known.get(user, async () => (await tenantObject(this.env, tenant).edgeUser(user)).exists, (v) => !v);
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

  /** The stub failed: the next call builds a new one. */
  drop(user: string): void {
    this.stubs.delete(user);
  }
}

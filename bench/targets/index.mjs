/**
 * The targets by name, on consecutive ports: the product, the bare relay (same runtime),
 * Kamailio, and the durable relay (the bare relay plus the rows of a durable call).
 */
import { randomBytes } from 'node:crypto';
import { kamailioTarget } from './kamailio.mjs';
import { productTarget } from './product.mjs';
import { relayTarget } from './relay.mjs';

/** @param common { repo, runDir, stateRoot, portBase, core } */
export function makeTarget(name, common) {
  if (name === 'product') {
    return productTarget({ ...common, port: common.portBase, adminToken: randomBytes(16).toString('hex'), limits: { maxUsers: 20_000 } });
  }
  if (name === 'relay') return relayTarget({ ...common, port: common.portBase + 1 });
  if (name === 'durable') return relayTarget({ ...common, port: common.portBase + 3, durable: true });
  if (name === 'kamailio') return kamailioTarget({ ...common, port: common.portBase + 2 });
  throw new Error(`unknown target ${name}`);
}

/**
 * The bare relay Worker (bench/relay/worker.js) under the same runtime and configuration
 * as the product: workerd, SQLite-backed Durable Objects on local disk, same core.
 */
import { join } from 'node:path';
import { compatibilityDate, workerdSlot, workerdVersion } from './workerd.mjs';

export function relayTarget({ repo, runDir, stateRoot, port, core }) {
  const slot = workerdSlot(join(stateRoot, 'relay'));
  return {
    name: 'relay',
    label: 'bare relay Worker',
    runtime: `workerd ${workerdVersion()} (bare: generated config, no proxy)`,
    domain: 'relay.invalid',
    // Objects hibernate 10 s after their last event.
    settleSeconds: 15,
    async build() {},
    /** @param state 'empty' | 'kept' | 'saved' (see prepareState) */
    async start({ state = 'kept', inspectorPort } = {}) {
      await slot.run(state, {
        name: 'relay',
        core,
        port,
        inspectorPort,
        configDir: join(runDir, 'relay-config'),
        compatibilityDate: compatibilityDate(repo),
        modules: [{ name: 'worker.js', path: join(repo, 'bench', 'relay', 'worker.js') }],
        durableObjects: [{ binding: 'RELAY', className: 'RelayUser' }],
        text: {},
      });
    },
    async provision() {
      return null;
    },
    url: (user, peer) => `ws://127.0.0.1:${port}/relay/${user}?peer=${peer}`,
    password: (user) => `pw-${user}-bench`,
    ...slot.controls,
  };
}

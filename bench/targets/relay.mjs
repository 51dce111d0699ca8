/**
 * The bare relay Worker (bench/relay/worker.js) under the same runtime and configuration
 * as the product: workerd, SQLite-backed Durable Objects on local disk, same core. It is
 * bundled by esbuild with the product's meter (durable-objects/shared/meter.ts), which
 * counts only when started with `meter: true` (SWITCHBOARD_METER=1).
 */
import { join } from 'node:path';
import { build } from 'esbuild';
import { compatibilityDate, workerdSlot, workerdVersion } from './workerd.mjs';

/** `durable`: the relay plus the four rows a durable call writes (bench/relay/worker.js). */
export function relayTarget({ repo, runDir, stateRoot, port, core, durable = false }) {
  const name = durable ? 'durable' : 'relay';
  const slot = workerdSlot(join(stateRoot, name));
  const configDir = join(runDir, `${name}-config`);
  const bundle = join(configDir, 'relay-bundle.js');
  return {
    name,
    label: durable ? 'durable relay Worker (the relay + the rows of a durable call)' : 'bare relay Worker',
    runtime: `workerd ${workerdVersion()} (bare: generated config, no proxy)`,
    domain: 'relay.invalid',
    // Objects hibernate 10 s after their last event.
    settleSeconds: 15,
    /** Env bindings whose objects carry the meter (the rest are counted where calls leave for them). */
    meteredBindings: ['RELAY'],
    async build() {
      await build({
        entryPoints: [join(repo, 'bench', 'relay', 'worker.js')],
        bundle: true,
        format: 'esm',
        platform: 'neutral',
        external: ['cloudflare:workers'],
        outfile: bundle,
        logLevel: 'warning',
      });
    },
    /** @param state 'empty' | 'kept' | 'saved' (see prepareState) */
    async start({ state = 'kept', inspectorPort, meter = false } = {}) {
      await slot.run(state, {
        name,
        core,
        port,
        inspectorPort,
        configDir,
        compatibilityDate: compatibilityDate(repo),
        modules: [{ name: 'worker.js', path: bundle }],
        durableObjects: [{ binding: 'RELAY', className: 'RelayUser' }],
        text: { ...(meter ? { SWITCHBOARD_METER: '1' } : {}), ...(durable ? { RELAY_DURABLE: '1' } : {}) },
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

/**
 * The dependency rule: worker -> durable-objects -> sip, never back; sip/ is pure (its own
 * tsconfig has no runtime types; this also checks its imports), and no timers in objects.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((f) => {
    const p = join(root, dir, f);
    return statSync(p).isDirectory() ? files(relative(root, p)) : p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm), ...src.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
}

function target(file: string, spec: string): string {
  return spec.startsWith('.') ? relative(root, resolve(dirname(file), spec)) : spec;
}

describe('layering', () => {
  /** The libraries the core may use: each pure, and no more of them than it needs. */
  const CORE_LIBRARIES = ['sdp-transform', '@noble/hashes/hmac.js', '@noble/hashes/legacy.js', '@noble/hashes/sha2.js', '@noble/hashes/utils.js', '@noble/ciphers/aes.js', '@noble/ciphers/utils.js'];

  it('sip/ imports only itself, sdp-transform and the @noble modules it hashes and seals with', () => {
    for (const f of files('sip')) {
      for (const spec of imports(f)) {
        const t = target(f, spec);
        expect(t.startsWith('sip/') || CORE_LIBRARIES.includes(t), `${relative(root, f)} imports ${spec}`).toBe(true);
      }
    }
  });

  /*
   * The core's layers, lowest first. A file may import its own layer and those below it,
   * never above: messages know nothing of proxies, policies nothing of dialogs, and only
   * the proxy pair puts registrar, dialogs and authentication together. The kernel
   * (state, io, step, timers, hops) is what every handler layer shares.
   */
  const LAYERS = ['message', 'policy', 'kernel', 'auth', 'registrar', 'dialog', 'proxy', 'index'] as const;
  function layerOf(path: string): number {
    const rest = path.slice('sip/'.length);
    if (rest === 'index.ts') return LAYERS.indexOf('index');
    const folder = rest.includes('/') ? rest.slice(0, rest.indexOf('/')) : 'kernel';
    const i = LAYERS.indexOf(folder as (typeof LAYERS)[number]);
    if (i < 0) throw new Error(`${path} is in no layer: name its folder in LAYERS`);
    return i;
  }

  it('sip/ layers import only their own layer and those below', () => {
    let checked = 0;
    for (const f of files('sip')) {
      const from = relative(root, f);
      for (const spec of imports(f)) {
        const t = target(f, spec).replace(/\.js$/, '.ts');
        if (!t.startsWith('sip/')) continue;
        expect(layerOf(t), `${from} (${LAYERS[layerOf(from)]}) imports ${t} (${LAYERS[layerOf(t)]})`).toBeLessThanOrEqual(layerOf(from));
        checked++;
      }
    }
    // The rule must have something to hold: the core has well over a hundred imports.
    expect(checked).toBeGreaterThan(100);
  });

  it('the layering rule catches an import from above', () => {
    expect(layerOf('sip/proxy/fork.ts')).toBeGreaterThan(layerOf('sip/message/parser.ts'));
    expect(layerOf('sip/dialog/dialog.ts')).toBeLessThan(layerOf('sip/proxy/fork.ts'));
    expect(() => layerOf('sip/elsewhere/x.ts')).toThrow(/no layer/);
  });

  it('durable-objects/ never imports the worker', () => {
    for (const f of files('durable-objects')) {
      for (const spec of imports(f)) expect(target(f, spec).startsWith('worker/'), `${relative(root, f)} imports ${spec}`).toBe(false);
    }
  });

  it('the core sets no timers (deadlines are data), and the objects only through their one timer plan', () => {
    for (const f of [...files('sip'), ...files('durable-objects')]) {
      if (relative(root, f) === 'durable-objects/user/alarm-plan.ts') continue;
      expect(readFileSync(f, 'utf8'), relative(root, f)).not.toMatch(/\bset(?:Timeout|Interval)\s*\(/);
    }
  });

  it('the core reads no clock and no entropy: time and ids are inputs', () => {
    for (const f of files('sip')) {
      expect(readFileSync(f, 'utf8'), relative(root, f)).not.toMatch(/Date\.now\(|new Date\(|Math\.random\(|crypto\./);
    }
  });
});

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
  it('sip/ imports only itself and sdp-transform', () => {
    for (const f of files('sip')) {
      for (const spec of imports(f)) {
        const t = target(f, spec);
        expect(t.startsWith('sip/') || t === 'sdp-transform', `${relative(root, f)} imports ${spec}`).toBe(true);
      }
    }
  });

  it('durable-objects/ never imports the worker', () => {
    for (const f of files('durable-objects')) {
      for (const spec of imports(f)) expect(target(f, spec).startsWith('worker/'), `${relative(root, f)} imports ${spec}`).toBe(false);
    }
  });

  it('the core and the objects set no timers (timers are data on the alarm)', () => {
    for (const f of [...files('sip'), ...files('durable-objects')]) {
      expect(readFileSync(f, 'utf8'), relative(root, f)).not.toMatch(/\bset(?:Timeout|Interval)\s*\(/);
    }
  });

  it('the core reads no clock and no entropy: time and ids are inputs', () => {
    for (const f of files('sip')) {
      expect(readFileSync(f, 'utf8'), relative(root, f)).not.toMatch(/Date\.now\(|new Date\(|Math\.random\(|crypto\./);
    }
  });
});

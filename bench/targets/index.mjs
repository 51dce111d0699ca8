/**
 * The targets by name, on consecutive ports: the product, the bare relay (same runtime),
 * Kamailio, the durable relay (the bare relay plus the rows of a durable call), and the
 * baseline: the product as built from another git ref (BENCH_BASELINE, a worktree of this
 * repository), so that a change is measured against what it changes within one
 * interleaved run, not across runs on a machine whose speed drifts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { kamailioTarget } from './kamailio.mjs';
import { productTarget } from './product.mjs';
import { relayTarget } from './relay.mjs';

/** @param common { repo, runDir, stateRoot, portBase, core } */
export function makeTarget(name, common) {
  if (name === 'product') {
    return productTarget({ ...common, port: common.portBase, adminToken: randomBytes(16).toString('hex'), limits: { maxUsers: 20_000 } });
  }
  if (name === 'baseline') {
    const ref = common.baseline ?? 'HEAD~1';
    const repo = baselineWorktree(common.repo, ref, common.runDir);
    const t = productTarget({ ...common, repo, runDir: join(common.runDir, 'baseline'), stateRoot: join(common.stateRoot, 'baseline'), port: common.portBase + 4, adminToken: randomBytes(16).toString('hex'), limits: { maxUsers: 20_000 } });
    return { ...t, name: 'baseline', label: `Switchboard at ${ref}` };
  }
  if (name === 'relay') return relayTarget({ ...common, port: common.portBase + 1 });
  if (name === 'durable') return relayTarget({ ...common, port: common.portBase + 3, durable: true });
  if (name === 'kamailio') return kamailioTarget({ ...common, port: common.portBase + 2 });
  throw new Error(`unknown target ${name}`);
}

/** A worktree of `repo` at `ref` (detached, made afresh), sharing the repository's node_modules. */
function baselineWorktree(repo, ref, runDir) {
  const dir = join(runDir, 'baseline-tree');
  if (existsSync(dir)) execFileSync('git', ['-C', repo, 'worktree', 'remove', '--force', dir]);
  execFileSync('git', ['-C', repo, 'worktree', 'add', '--detach', dir, ref], { stdio: 'ignore' });
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

// Types for `env` and `exports` from "cloudflare:workers" inside the Worker tests.
type SwitchboardEnv = import('../../durable-objects/env.js').Env;
type SwitchboardMain = typeof import('../../worker/index.js');

declare namespace Cloudflare {
  interface Env extends SwitchboardEnv {}
  interface GlobalProps {
    mainModule: SwitchboardMain;
  }
}

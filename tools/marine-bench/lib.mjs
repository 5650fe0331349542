// Starting services on the reference runtime for JS, @fluencelabs/marine-js, the way its
// users do: the control module (marine-js.wasm, the runtime itself compiled to Wasm) is
// compiled once, and each service gets a fresh instance of it that registers the modules.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { MarineService } from "@fluencelabs/marine-js/MarineService";
import { defaultCallParameters } from "@fluencelabs/marine-js/types";

const require = createRequire(import.meta.url);

/// The control module's bytes.
export function controlBytes() {
  return readFileSync(require.resolve("@fluencelabs/marine-js/marine-js.wasm"));
}

/// A module's settings: no logger, no environment, no files (marine-js gives modules an
/// in-memory file system without preopened directories).
function moduleConfig(name) {
  return {
    import_name: name,
    config: {
      logger_enabled: false,
      logging_mask: 0,
      wasi: { envs: {}, preopened_files: new Set(), mapped_dirs: new Map() },
    },
  };
}

/// Starts a service of `modules` ([name, bytes] in load order, the facade last).
export async function startService(control, modules) {
  const config = { modules_config: modules.map(([name]) => moduleConfig(name)) };
  const bytes = Object.fromEntries(modules);
  const service = new MarineService(control, "bench", () => {}, config, bytes);
  await service.init();
  return service;
}

/// Calls a facade function with JSON arguments and empty call parameters.
export function call(service, fn, args) {
  return service.call(fn, args, defaultCallParameters);
}

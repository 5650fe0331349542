// Mock services on the peers of a reference network: the test services of a run spec
// (aqua/tests/programs, `network_sim::services`), answered by js-client peers.
//
// js-client registers handlers per service and function name only; mock rules may match any
// function of a service, and must be asked before the builtins (a test may override one). So
// each peer's handler lookup is wrapped: the mock rules of the current call first, then the
// peer's own handlers.

/**
 * A set of rules `{ peer, service, function, behaviour }`, most specific first: `peer` is a
 * peer id or null for any peer, `function` a name or null for any function. The first rule
 * that matches a call answers it. `behaviour` is one of `{ok: value}`, `{err: [code, value]}`,
 * `{echo: null}`, `{arg: n}`, `{seq: [values]}`, `{lookup: {key: value}}`,
 * `{tetraplets: null}`, `{stop: null}` (a fault: the peer named by the first argument leaves
 * the network).
 */
export class Mocks {
  constructor(rules, network) {
    this.rules = rules;
    this.network = network;
    // Calls answered so far by a `seq` rule, by rule index and peer.
    this.positions = new Map();
  }

  /** The handler of `service.fn` on `peerId`, or null when no rule matches. */
  handler(peerId, service, fn) {
    const index = this.rules.findIndex(
      (rule) =>
        (rule.peer === null || rule.peer === peerId) &&
        rule.service === service &&
        (rule.function === null || rule.function === fn),
    );
    if (index < 0) return null;
    return (req) => this.answer(index, peerId, req);
  }

  answer(index, peerId, req) {
    const [kind, param] = Object.entries(this.rules[index].behaviour)[0];
    const ok = (result) => ({ retCode: 0, result });
    const fail = (message) => ({ retCode: 1, result: message });
    switch (kind) {
      case "ok":
        return ok(param);
      case "err":
        return { retCode: param[0], result: param[1] };
      case "echo":
        return ok(req.args);
      case "arg":
        return param < req.args.length
          ? ok(req.args[param])
          : fail(`mock wants argument ${param} but the call has ${req.args.length}`);
      case "seq": {
        const key = `${index} ${peerId}`;
        const position = this.positions.get(key) ?? 0;
        this.positions.set(key, position + 1);
        return ok(param[Math.min(position, param.length - 1)]);
      }
      case "lookup": {
        const first = req.args[0];
        const key = typeof first === "string" ? first : first === undefined ? "" : JSON.stringify(first);
        return Object.hasOwn(param, key) ? ok(param[key]) : fail(`mock has no entry ${JSON.stringify(key)}`);
      }
      case "tetraplets":
        return ok(
          req.tetraplets.map((list) =>
            list.map(({ peer_pk, service_id, function_name, lens }) => ({
              peer_pk,
              service_id,
              function_name,
              lens,
            })),
          ),
        );
      case "stop":
        this.network.stop(req.args[0]);
        return ok("");
      default:
        return fail(`unknown mock behaviour ${kind}`);
    }
  }
}

/**
 * Makes every peer of `peers` (FluencePeers) ask `current()` (a Mocks or null) before its own
 * handlers.
 */
export function installMocks(peers, current) {
  for (const peer of peers) {
    const host = peer.jsServiceHost;
    const own = host.getHandler.bind(host);
    const peerId = peer.getPeerId();
    host.getHandler = (service, fn, particleId) =>
      current()?.handler(peerId, service, fn) ?? own(service, fn, particleId);
  }
}

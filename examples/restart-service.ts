/**
 * A Regent-style operation (SPEC §9): restart a named service, but only after a person
 * approves. Load it on the node whose machine runs the services:
 *
 *     RP_SERVICES=nginx,app rp-client --handler ./examples/restart-service.ts ...
 *
 * and ask for a restart from the other node's gateway:
 *
 *     curl -X POST http://127.0.0.1:8000/client/node-a/service/restart//nginx
 *
 * The caller is answered 202 with a job on hold. `onHold` logs how to approve it (send
 * your email or page from there). A person approves on the holding node's gateway, with a
 * POST, never a link a mail scanner would follow:
 *
 *     curl -X POST http://127.0.0.1:8001/_rp/holds/HOLD_ID/approve -d '{"reason":"change 42"}'
 *
 * Then `authResponse` checks the name again and the restart runs, once; its output is the
 * job's result on the caller's side. The steps are Regent's: prepare (validate the input
 * before anyone is asked), auth (hold), auth_response, perform.
 *
 * Environment: RP_SERVICES, the names that may be restarted (comma-separated; none by
 * default, so nothing can be restarted until you say what may); RP_SERVICE_COMMAND, the
 * program run as `COMMAND restart NAME` (default `systemctl`; the tests point it at a
 * script); RP_RESTART_HOLD_MS, how long an approval may take (default one hour).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { EventHandler, HttpError, hold, type EventBody, type EventContext, type HoldView } from 'restpipe';

const run = promisify(execFile);
const SERVICE_NAME = /^[a-z0-9][a-z0-9@._-]{0,63}$/;
const RESTART_TIMEOUT_MS = 60_000;

function allowedServices(): Set<string> {
  return new Set((process.env['RP_SERVICES'] ?? '').split(',').map((s) => s.trim()).filter(Boolean));
}

/** Regent's `prepare`: the name is checked before anyone is asked to approve it. */
function prepare(ctx: EventContext): string {
  const name = ctx.args[0] ?? '';
  if (ctx.args.length !== 1 || !SERVICE_NAME.test(name)) {
    throw new HttpError(400, 'name one service: /service/restart//NAME (lower-case letters, digits, @ . _ -)');
  }
  if (!allowedServices().has(name)) throw new HttpError(404, `service ${name} is not one that may be restarted here (RP_SERVICES)`);
  return name;
}

export default class RestartServiceHandler extends EventHandler {
  /** Regent's `auth`: every restart waits for a person. Anything else here is refused. */
  authorize(ctx: EventContext) {
    if (ctx.noun.join('/') !== 'service/restart') return false;
    const name = prepare(ctx);
    return hold({ reason: `restart ${name}, asked by ${ctx.peer.name}`, ttlMs: Number(process.env['RP_RESTART_HOLD_MS'] ?? 3_600_000) });
  }

  /** Where the email goes out. Here: one log line naming the route to approve with. */
  onHold(view: HoldView) {
    console.error(`approval needed: ${view.reason}; POST /_rp/holds/${view.hold}/approve or /deny (digest ${view.digest})`);
  }

  /** Regent's `auth_response`: the service may have been removed from the list meanwhile. */
  authResponse(ctx: EventContext) {
    prepare(ctx);
    return true;
  }

  /** Regent's `perform`: runs once, after the approval, on exactly the event approved. */
  async post_service_restart(ctx: EventContext, _body: EventBody, name: string) {
    const command = process.env['RP_SERVICE_COMMAND'] || 'systemctl';
    const { stdout } = await run(command, ['restart', name], { timeout: RESTART_TIMEOUT_MS, signal: ctx.signal });
    return { restarted: name, output: stdout.trim() };
  }
}

/**
 * The first module an rp-server or rp-client evaluates, before the rest of the
 * CLI is even loaded: from here on, SIGHUP, SIGTERM and SIGINT no longer kill
 * the process (Node's default); they are held, in order, for Lifecycle to act
 * on once it is installed. No imports, so that it runs within the first
 * milliseconds of the process.
 */
const SIGNALS = ['SIGHUP', 'SIGTERM', 'SIGINT'] as const;
const held: NodeJS.Signals[] = [];
const hold = (signal: NodeJS.Signals): void => {
  held.push(signal);
};

for (const signal of SIGNALS) process.on(signal, hold);

/** Stops holding; returns what came meanwhile, oldest first. */
export function takeHeldSignals(): NodeJS.Signals[] {
  for (const signal of SIGNALS) process.off(signal, hold);
  return held.splice(0);
}

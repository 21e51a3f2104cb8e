/** A hold as SPEC §9's routes, `onHold` and `authResponse` show it: JSON, times in ISO 8601. */
import type { HoldInfo } from '@restpipe/store';
import type { HoldView } from '../api-types.js';
import { fromQueryParams } from '../request.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function holdView(info: HoldInfo): HoldView {
  return {
    hold: info.id,
    status: info.status,
    peer: info.peer,
    verb: info.verb,
    noun: info.noun.join('/'),
    args: [...info.args],
    query: fromQueryParams(info.query.map((q) => ({ key: q.key, values: [...q.values] }))),
    digest: info.digest,
    reason: info.reason,
    createdAt: new Date(info.createdAt).toISOString(),
    expiresAt: new Date(info.expiresAt).toISOString(),
    decidedBy: info.decidedBy,
    decidedAt: iso(info.decidedAt),
    decisionReason: info.decisionReason,
    requestId: info.requestId,
    history: info.history.map((entry) => ({ status: entry.status, at: new Date(entry.at).toISOString(), by: entry.by, reason: entry.reason })),
  };
}

/** What a verified certificate says about its holder. */
export interface CertificateFacts {
  /** Node's `subjectaltname` string, e.g. `DNS:node-a, IP Address:127.0.0.1`. */
  subjectAltName?: string | undefined;
  commonName?: string | undefined;
}

/**
 * A peer's name is its certificate's first SAN DNS name, or its CN when the
 * certificate has no SAN DNS name. Returns undefined when it has neither.
 */
export function peerNameFromCertificate(facts: CertificateFacts): string | undefined {
  const dns = dnsNames(facts.subjectAltName ?? '');
  if (dns.length > 0) return dns[0];
  const cn = facts.commonName?.trim();
  return cn ? cn : undefined;
}

/** SAN entries of type DNS, in certificate order. Node may quote entries with odd characters. */
export function dnsNames(subjectAltName: string): string[] {
  const names: string[] = [];
  for (const entry of subjectAltName.split(/,\s*(?=[A-Za-z][A-Za-z ]*:)/)) {
    const match = /^DNS:(.*)$/.exec(entry.trim());
    if (match?.[1]) names.push(unquote(match[1]));
  }
  return names;
}

function unquote(value: string): string {
  if (!value.startsWith('"')) return value;
  try {
    return JSON.parse(value) as string;
  } catch {
    return value;
  }
}

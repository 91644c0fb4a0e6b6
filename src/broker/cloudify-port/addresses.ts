/**
 * URLs, IPv4/IPv6 addresses and host:port pairs. Platform users see operation descriptions and
 * error bodies; where the manager and the services behind it live is for the operator's log.
 */
const ADDRESS = new RegExp(
  [
    String.raw`\b[a-z][a-z0-9+.-]*://[^\s"'<>)]+`, // URLs
    String.raw`\[[0-9a-f:.]+\](?::\d+)?`, // [IPv6]:port
    String.raw`\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b`, // IPv4[:port]
    String.raw`\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b`, // IPv6, full form
    String.raw`\b(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?`, // IPv6 with ::
    String.raw`\b[a-z0-9-]+(?:\.[a-z0-9-]+)+:\d{1,5}\b`, // host.name:port
  ].join("|"),
  "gi",
);

/** `text` with every internal address replaced by "<address>". */
export function withoutAddresses(text: string): string {
  return text.replace(ADDRESS, "<address>");
}

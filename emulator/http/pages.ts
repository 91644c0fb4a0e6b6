/**
 * Non-JSON answers: the manager leaves unknown URLs to Flask/werkzeug (HTML pages), and a proxy in
 * front of a struggling manager answers 5xx (or 408, 429 when it rate-limits) with its own HTML.
 */

export function notFoundPage(): string {
  return [
    "<!doctype html>",
    "<html lang=en>",
    "<title>404 Not Found</title>",
    "<h1>Not Found</h1>",
    "<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>",
    "",
  ].join("\n");
}

export function methodNotAllowedPage(): string {
  return [
    "<!doctype html>",
    "<html lang=en>",
    "<title>405 Method Not Allowed</title>",
    "<h1>Method Not Allowed</h1>",
    "<p>The method is not allowed for the requested URL.</p>",
    "",
  ].join("\n");
}

const REASONS: Record<number, string> = {
  408: "Request Time-out",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Temporarily Unavailable",
  504: "Gateway Time-out",
};

export function proxyErrorPage(status: number): string {
  const title = `${status} ${REASONS[status] ?? "Error"}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}

/**
 * The method path of a request URL.
 */

/** The pathname of an absolute URL (`http://h/pkg.S/M?x` → `/pkg.S/M`) without a full URL parse. */
export function requestPath(url: string): string {
  const scheme = url.indexOf("://");
  const start = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (start < 0) return "/";
  let end = url.length;
  const q = url.indexOf("?", start);
  if (q >= 0) end = q;
  const h = url.indexOf("#", start);
  if (h >= 0 && h < end) end = h;
  return url.slice(start, end);
}

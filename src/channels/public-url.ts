// The hub's public base URL (config `server.publicUrl`, `--public-url`, FUSION_PUBLIC_URL). Behind a
// proxy that ends TLS, the URL a request arrives at (http://10.0.0.5:8002/...) is not the one its
// sender called and signed (https://hub.example/...), and the proxy's X-Forwarded-* headers are
// only as trustworthy as every hop: signed callbacks are checked against this base instead.

/** The base checked and without its trailing slash; throws saying what is wrong with it. */
export function parsePublicUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${JSON.stringify(raw)} is not an absolute URL (e.g. https://hub.example)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`must be an http or https URL, not ${url.protocol}`);
  if (url.search || url.hash || url.username || url.password) {
    throw new Error('must hold only a scheme, a host, a port and a path prefix (no query, fragment or credentials)');
  }
  return url.href.replace(/\/+$/, '');
}

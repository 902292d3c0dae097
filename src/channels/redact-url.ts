// A URL as `fusion config check` and logs may show it. A credential often rides inside a URL rather
// than in a field of its own (`https://user:pass@es.internal:9200`, a reminder endpoint's `?token=`),
// and a URL is shown as a setting, so its secrets are masked where it is shown.
import { isSecretName } from '../core/secret-fields.js';

const URL_PARTS = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*@)?([^?#]*)(\?[^#]*)?(#.*)?$/i;

/**
 * The URL with the password of its user info (up to its last @, so a raw @ in a password hides no
 * tail of it) and the values of its query parameters named like secrets (`token`, `password`,
 * `api_key`, ...) as ***. Text that is no URL (a template such as `{{base_url}}/send`) is left as is.
 */
export function redactUrl(text: string): string {
  const m = URL_PARTS.exec(text);
  if (!m) return text;
  const [, scheme, userinfo = '', rest, query = '', fragment = ''] = m;
  const colon = userinfo.indexOf(':');
  const user = colon >= 0 ? `${userinfo.slice(0, colon)}:***@` : userinfo;
  const params = query.replace(/([?&])([^=&]*)=([^&]*)/g, (all, sep: string, name: string) => {
    let decoded = name;
    try {
      decoded = decodeURIComponent(name);
    } catch {
      // a malformed escape: judged as written
    }
    return isSecretName(decoded) ? `${sep}${name}=***` : all;
  });
  return `${scheme}${user}${rest}${params}${fragment}`;
}

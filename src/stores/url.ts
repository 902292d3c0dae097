// A store URL as logs and messages may show it: the password replaced by ***.
export function redactStoreUrl(url: string): string {
  return url.replace(/(:\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

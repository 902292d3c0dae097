// The email channel's message, as the payload check normalises it (EmailMessage) and as a provider
// receives it (OutgoingEmail: recipients filtered, text part made, attachments downloaded).

export interface EmailAddress {
  name?: string;
  address: string;
}

/** An attachment named by URL; downloaded through the outgoing guard at send time. */
export interface AttachmentRef {
  url: string;
  filename?: string;
}

export interface EmailMessage {
  /** The sender; absent: the provider's configured `from`. */
  from?: EmailAddress;
  replyTo: string[];
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  html?: string;
  text?: string;
  attachments: AttachmentRef[];
  /** Extra headers (X-..., List-Unsubscribe, ...). */
  headers: Record<string, string>;
  /** The original worker's `callback_url`: told of the send (job.completed) once the mail is accepted. */
  callbackUrl?: string;
  /** Delete each attachment's source (HTTP DELETE on its URL) after the mail is accepted. Opt-in. */
  deleteFilesAfterSend: boolean;
  /** A provider the payload asks for (name or adapter type). */
  provider?: string;
}

export interface LoadedAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

/** What a provider sends: a message whose recipients all passed the checks. */
export interface OutgoingEmail {
  from?: EmailAddress;
  replyTo: string[];
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  html?: string;
  /** Always present: the payload's, or generated from the HTML. */
  text: string;
  attachments: LoadedAttachment[];
  headers: Record<string, string>;
  /** Job id, for providers that take a custom id or tag. */
  jobId?: string;
  /**
   * The only recipients this send goes to, when an earlier attempt's went to the others (they
   * refused for now); the headers still name the whole mail's To and Cc where the provider allows.
   */
  envelope?: string[];
}

/** "Name <address>" or the bare address. */
export function formatAddress(a: EmailAddress): string {
  if (!a.name) return a.address;
  const name = /[",<>@()\\;:[\]]/.test(a.name) ? `"${a.name.replace(/["\\]/g, '\\$&')}"` : a.name;
  return `${name} <${a.address}>`;
}

/** The domain of an address, lowercased. */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

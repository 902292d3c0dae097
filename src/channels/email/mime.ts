// The one MIME message (nodemailer's MailComposer) for providers that take raw mail (SES), the text
// part made from the HTML when the payload gave none, and the mail options every nodemailer path uses.
import MailComposer from 'nodemailer/lib/mail-composer';
import { convert } from 'html-to-text';
import { formatAddress, type EmailAddress, type OutgoingEmail } from './message.js';

/** A readable text part for an HTML body: links kept as "text [url]", images dropped. */
export function textFromHtml(html: string): string {
  return convert(html, {
    wordwrap: 78,
    selectors: [
      { selector: 'img', format: 'skip' },
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
    ],
  });
}

const UNDISCLOSED = 'Undisclosed recipients:;';

/** nodemailer's mail options for a message. Files and URLs inside the message are never read. */
export function mailOptions(m: OutgoingEmail, from: EmailAddress) {
  return {
    from: formatAddress(from),
    // A mail to Cc or Bcc recipients only says so (RFC 5322's empty group), naming none of them.
    to: m.to.length ? m.to : UNDISCLOSED,
    cc: m.cc.length ? m.cc : undefined,
    bcc: m.bcc.length ? m.bcc : undefined,
    replyTo: m.replyTo.length ? m.replyTo : undefined,
    subject: m.subject,
    text: m.text,
    html: m.html,
    headers: m.headers,
    attachments: m.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content })),
    // The content is ours (downloaded through the guard): nodemailer must not fetch paths or URLs itself.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

/** The whole message as MIME bytes (Bcc left out of the headers; the envelope carries them). */
export async function buildMime(m: OutgoingEmail, from: EmailAddress): Promise<Buffer> {
  const node = new MailComposer(mailOptions(m, from)).compile();
  return node.build();
}

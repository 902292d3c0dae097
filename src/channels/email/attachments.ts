// Attachments: each file is fetched from its URL through the outgoing guard (the SSRF check on the
// address actually dialled), streamed and counted as it arrives, with a per-file and a per-mail size
// limit and a time limit per file. The body is held in memory once downloaded (bounded by the
// per-mail limit): every provider needs the whole file (MIME, or base64 inside a JSON request).
//
// A download that fails (network fault, timeout, 5xx, 429) is retryable; a file that is too large,
// a URL the guard refuses, or a 4xx answer is not: no retry can fix it.
import { basename } from 'node:path';
import { request, type Dispatcher } from 'undici';
import { NonRetryableError, RetryableError } from '../../core/errors.js';
import { refusedCause } from '../http/guard.js';
import type { AttachmentRef, LoadedAttachment } from './message.js';

export const ATTACHMENT_DEFAULTS = {
  /** Per file (SES's whole-message limit is 40 MB after base64; 10 MB per file is a common cap). */
  maxFileBytes: 10 * 1024 * 1024,
  /** All files of one mail together. */
  maxTotalBytes: 25 * 1024 * 1024,
  /** Per file, from request to last byte. */
  timeoutMs: 30_000,
};

export type AttachmentLimits = typeof ATTACHMENT_DEFAULTS;

export class AttachmentTooLarge extends NonRetryableError {
  override name = 'AttachmentTooLarge';
  readonly code = 'attachment_too_large';
}

/** A filename from the answer's Content-Disposition, else the URL's last path segment. */
function filenameOf(ref: AttachmentRef, disposition: string | undefined, i: number): string {
  if (ref.filename) return ref.filename;
  const star = disposition && /filename\*\s*=\s*(?:UTF-8'')?([^;]+)/i.exec(disposition);
  if (star) {
    try {
      return decodeURIComponent(star[1]!.trim().replace(/^"|"$/g, ''));
    } catch { /* fall through */ }
  }
  const plain = disposition && /filename\s*=\s*"?([^";]+)"?/i.exec(disposition);
  if (plain) return plain[1]!.trim();
  try {
    const last = basename(decodeURIComponent(new URL(ref.url).pathname));
    if (last && last !== '/') return last;
  } catch { /* fall through */ }
  return `attachment-${i + 1}`;
}

const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** Download every attachment of a mail, in order. Throws RetryableError or NonRetryableError. */
export async function fetchAttachments(refs: AttachmentRef[], opts: { dispatcher: Dispatcher; signal: AbortSignal; limits?: Partial<AttachmentLimits> }): Promise<LoadedAttachment[]> {
  const limits = { ...ATTACHMENT_DEFAULTS, ...opts.limits };
  const out: LoadedAttachment[] = [];
  let total = 0;
  for (const [i, ref] of refs.entries()) {
    const label = `attachment ${i + 1} (${safeUrl(ref.url)})`;
    const timeout = AbortSignal.timeout(limits.timeoutMs);
    const signal = AbortSignal.any([opts.signal, timeout]);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(ref.url, { method: 'GET', dispatcher: opts.dispatcher, signal, headersTimeout: limits.timeoutMs, bodyTimeout: limits.timeoutMs });
    } catch (err) {
      throw downloadFailure(err, label, timeout);
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      res.body.resume();
      const why = `${label}: the server answered ${res.statusCode}`;
      if (res.statusCode >= 500 || res.statusCode === 408 || res.statusCode === 429) throw new RetryableError(why);
      throw new NonRetryableError(why);
    }
    const room = Math.min(limits.maxFileBytes, limits.maxTotalBytes - total);
    const declared = Number(header(res.headers['content-length']));
    if (Number.isFinite(declared) && declared > room) {
      res.body.destroy();
      throw tooLarge(label, declared, limits, total);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        // Counted as it arrives: a server that lies about (or omits) its length is cut off at the limit.
        if (size > room) {
          res.body.destroy();
          throw tooLarge(label, size, limits, total);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      if (err instanceof AttachmentTooLarge) throw err;
      throw downloadFailure(err, label, timeout);
    }
    total += size;
    const type = header(res.headers['content-type'])?.split(';')[0]?.trim() || 'application/octet-stream';
    out.push({ filename: filenameOf(ref, header(res.headers['content-disposition']), i), contentType: type, content: Buffer.concat(chunks, size) });
  }
  return out;
}

function tooLarge(label: string, size: number, limits: AttachmentLimits, before: number): AttachmentTooLarge {
  const file = size > limits.maxFileBytes;
  return new AttachmentTooLarge(file
    ? `${label} is larger than the per-file limit of ${limits.maxFileBytes} bytes`
    : `${label} would take the mail past its attachment limit of ${limits.maxTotalBytes} bytes (${before} bytes before it)`);
}

function downloadFailure(err: unknown, label: string, timeout: AbortSignal): Error {
  const refused = refusedCause(err);
  if (refused) return new NonRetryableError(`${label}: ${refused.message}`);
  if (timeout.aborted) return new RetryableError(`${label}: timed out`);
  const e = err as { code?: string; message?: string };
  return new RetryableError(`${label}: download failed (${e?.code ?? 'error'}: ${e?.message ?? String(err)})`);
}

/** The URL without its query (presigned URLs carry credentials there), for messages and results. */
export function safeUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '[bad url]';
  }
}

export interface DeletedSource {
  url: string;
  deleted: boolean;
  status?: number;
  error?: string;
}

/**
 * The opt-in clean-up the original did on S3: an HTTP DELETE on each file's URL through the guard
 * (an S3 presigned DELETE URL works this way). The mail is already accepted, so a failure is
 * recorded in the result, never a reason to send again.
 */
export async function deleteSources(urls: string[], opts: { dispatcher: Dispatcher; timeoutMs?: number }): Promise<DeletedSource[]> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return Promise.all(urls.map(async (url): Promise<DeletedSource> => {
    try {
      const res = await request(url, { method: 'DELETE', dispatcher: opts.dispatcher, signal: AbortSignal.timeout(timeoutMs), headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      res.body.resume();
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      return { url: safeUrl(url), deleted: ok, status: res.statusCode };
    } catch (err) {
      return { url: safeUrl(url), deleted: false, error: refusedCause(err)?.message ?? (err as Error).message };
    }
  }));
}

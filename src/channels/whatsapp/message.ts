// A WhatsApp message as the channel hands it to a provider: one recipient, and one of text, an
// approved template with its body parameters, or media by URL.
export type MediaType = 'image' | 'document' | 'video' | 'audio';

export interface WhatsAppMessage {
  /** E.164, with its + (e.g. +919876543210). */
  to: string;
  callingCode: string;
  kind: 'text' | 'template' | 'media';
  /** The text (kind text), or the media's caption. */
  text?: string;
  template?: { name: string; language: string; params: string[] };
  media?: { url: string; type: MediaType; filename?: string };
}

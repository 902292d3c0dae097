// An SMS as providers receive it: the payload (original Fusion form or native) normalised once.
export interface SmsMessage {
  /** E.164, e.g. +919876543210. */
  to: string;
  /** The country calling code without +, e.g. "91". */
  callingCode: string;
  /** The number without its calling code, e.g. "9876543210". */
  nationalNumber: string;
  text: string;
  /** Sender id / from number; a provider's configured default applies when absent. */
  senderId?: string;
  /** An OTP: sent at high priority, through the provider's OTP route where it has one. */
  otp: boolean;
  /** MSG91 flow variables (the original's `context`) and flow/template id (its `flowAuth`). */
  context?: Record<string, unknown>;
  flowAuth?: unknown;
  /** A provider-side template id (DLT template in India, MSG91 flow id, ...). */
  templateId?: string;
  /** Where the provider should post delivery reports for this message, when the hub knows it. */
  statusCallbackUrl?: string;
}

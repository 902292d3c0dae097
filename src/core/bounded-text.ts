// Text a job keeps from outside (an error's message, a log line) cut to a bound, saying how much was left out.

/** `text` cut to `max` characters (never inside a surrogate pair), saying how much was left out. */
export function boundedText(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  const end = last >= 0xd800 && last <= 0xdbff ? max - 1 : max;
  return `${text.slice(0, end)}… (${text.length - end} more characters)`;
}

// The one test for "a JSON object" (not null, not an array) that payload readers and log maskers share.
export const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

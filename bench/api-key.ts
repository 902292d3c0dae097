// The API key the HTTP benchmark's target server accepts, and the body the benchmarks post.
export const BENCH_KEY = 'bench-key-0123456789abcdef';

/** POST /v1/jobs of an SMS (bench/api.ts, bench/api-instructions.ts). */
export const BENCH_BODY = JSON.stringify({ task: 'sms', payload: { contact: '9876543210', countryCode: 91, message: 'Your OTP is 4711' }, priority: 'high' });

// The API key the HTTP benchmark's target server accepts.
export const BENCH_KEY = 'bench-key-0123456789abcdef';

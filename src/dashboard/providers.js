// Providers: every configured delivery provider of every channel with what it sent, how many were
// delivered and failed (last hour, and 24 h below), its send latency and whether it is demoted;
// then the destination hosts of webhooks and callbacks whose breaker opened lately. Reloads on
// provider.demoted/restored and on job events (at most once a second), and every 10 s, since other
// processes' sends raise no event here.
import { useEffect } from 'preact/hooks';
import { api } from './api.js';
import { bus } from './state.js';
import { html, num, when, relative, useLoad } from './util.js';

const wants = (e) => e.type.startsWith('provider.') || e.type === 'job.completed' || e.type === 'job.failed' || e.type === 'job.retrying';
/** The hosts' list reloads when a breaker opens or closes (and every 10 s). */
const failing = (e) => e.type.startsWith('breaker.');

function ms(v) {
  return v === null || v === undefined ? '–' : v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${v} ms`;
}

function pct(part, whole) {
  return whole > 0 ? `${Math.round((part / whole) * 100)}%` : '–';
}

function Counts({ w, label }) {
  if (!w) return html`<td class="num" colspan="4">–</td>`;
  const tried = w.sent + w.failed;
  return html`
    <td class="num" data-k="sent" title=${`${label}: ${num(w.sent)} accepted`}>${num(w.sent)}</td>
    <td class="num" data-k="delivered" title=${`${label}: ${pct(w.delivered, w.sent)} of sent reported delivered; ${num(w.undelivered)} undelivered`}>${num(w.delivered)}${w.undelivered ? html` <span class="muted small">/ ${num(w.undelivered)} undel.</span>` : ''}</td>
    <td class="num" data-k="failed" title=${`${label}: ${pct(w.failed, tried)} of attempts failed`}>${w.failed ? html`<span class="bad">${num(w.failed)}</span>` : '0'} <span class="muted small">${pct(w.failed, tried)}</span></td>
    <td class="num" data-k="latency" title=${`${label}: mean ${ms(w.latency.meanMs)} over ${num(w.latency.samples)} sends`}>${ms(w.latency.p50Ms)} <span class="muted small">/ ${ms(w.latency.p95Ms)}</span></td>`;
}

/** A host's breaker: open (its jobs fail at once until the cooldown ends), half-open, or closed again. */
function BreakerState({ b }) {
  if (b.state === 'open') return html`<span class="badge bad" title=${`Its webhooks and callbacks are not tried until ${when(b.openUntil)}`}>open</span> <span class="muted small">ends ${relative(b.openUntil)}</span>`;
  if (b.state === 'half-open') return html`<span class="badge warn" title="The next request to it is a probe: an answer closes the breaker">half-open</span>`;
  return html`<span class="state s-completed">closed</span>`;
}

function Breakers({ list }) {
  const items = list.data?.items ?? [];
  return html`<h2 class="hosts" data-testid="hosts-title">Destination hosts <span class="muted small">webhooks and callbacks${items.some((b) => b.state !== 'closed') ? html` · <span class="bad">${items.filter((b) => b.state !== 'closed').length} failing</span>` : ''}</span></h2>
    ${list.error && html`<p class="error">${list.error.message}</p>`}
    ${list.data && items.length === 0 && html`<p class="muted card" data-testid="breakers-none">No destination host has failed lately.</p>`}
    ${items.length > 0 && html`<div class="card"><div class="scroll"><table class="grid" data-testid="breakers">
      <thead><tr><th>Host</th><th>Breaker</th><th class="num" title="How often its breaker opened (a failed probe opens it again)">Opened</th></tr></thead>
      <tbody>${items.map((b) => html`<tr data-host=${b.host} data-state=${b.state}>
        <td><b>${b.host}</b></td><td><${BreakerState} b=${b} /></td><td class="num">${num(b.opens)}</td>
      </tr>`)}</tbody>
    </table></div></div>`}
    <p class="muted small">A host's breaker opens after repeated timeouts or refused connections: its webhooks and callbacks then fail at once, retried after the cool-down, when one request probes it; an answer closes it.</p>`;
}

export function Providers() {
  const list = useLoad(() => api('/v1/providers'), [], wants, bus);
  const breakers = useLoad(() => api('/v1/breakers'), [], failing, bus);
  useEffect(() => {
    const t = setInterval(() => {
      list.reload();
      breakers.reload();
    }, 10_000);
    return () => clearInterval(t);
  }, [list.reload, breakers.reload]);
  const items = list.data?.items ?? [];
  const demoted = items.filter((p) => p.demoted).length;
  return html`<section>
    <h1 class="page">Providers <span class="muted small">${items.length} configured${demoted ? html` · <span class="bad">${demoted} demoted</span>` : ''}</span></h1>
    ${list.error && html`<p class="error">${list.error.message}</p>`}
    ${!list.data && !list.error && html`<p class="muted">Loading…</p>`}
    ${list.data && items.length === 0 && html`<p class="muted card">No channel with providers is installed.</p>`}
    ${items.length > 0 && html`<div class="card"><div class="scroll"><table class="grid providers" data-testid="providers">
      <thead><tr><th>Provider</th><th>Routes</th><th>Status</th><th class="num">Sent <span class="muted small">1 h</span></th><th class="num">Delivered</th><th class="num">Failed</th><th class="num" title="p50 / p95 of the provider's answer time">Latency p50 / p95</th></tr></thead>
      <tbody>${items.map((p) => html`<tr data-provider=${`${p.channel}/${p.name}`} data-demoted=${String(p.demoted)}>
        <td><b>${p.name}</b> <span class="muted small">${p.channel} · ${p.type}</span>
          ${(p.countries || p.ratePerSecond) && html`<div class="muted small">${p.countries ? p.countries.join(' ') : ''}${p.countries && p.ratePerSecond ? ' · ' : ''}${p.ratePerSecond ? `${num(p.ratePerSecond)}/s` : ''}</div>`}</td>
        <td>${p.routes.length ? p.routes.map((r) => html`<span class="chip">${r}</span>`) : html`<span class="muted small">${p.type === 'dry-run' ? 'every message' : 'by name only'}</span>`}</td>
        <td>${p.demoted
          ? html`<span class="badge bad" title=${`Skipped by every worker until ${when(p.demotedUntil)}`}>demoted</span> <span class="muted small">ends ${relative(p.demotedUntil)}</span>`
          : p.type === 'dry-run' ? html`<span class="badge warn" title="No provider configured: nothing is sent">dry-run</span>` : html`<span class="state s-completed">ok</span>`}</td>
        <${Counts} w=${p.stats?.lastHour} label="last hour" />
      </tr>
      <tr class="sub" data-provider-day=${`${p.channel}/${p.name}`}><td colspan="3" class="muted small num">last 24 h</td><${Counts} w=${p.stats?.last24h} label="last 24 h" /></tr>`)}</tbody>
    </table></div></div>
    <p class="muted small">Counts are shared by every worker of the store: the last hour in 5-minute steps, the last 24 h in hours. Sent: accepted by the provider; delivered: the provider's delivery reports; failed: attempts the provider failed. A provider is demoted after repeated retryable failures and skipped by every worker until its cool-down ends.</p>`}
    <${Breakers} list=${breakers} />
  </section>`;
}

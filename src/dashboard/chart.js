// A live uPlot line chart sized to its box, with colours from the page's theme.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html } from './util.js';

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/** series: [{ label, color: '--css-var', scale?: 'y' | 'y2' }]; data: [xs (s), ...ys]. */
export function Chart({ series, data, height = 220, y2Label }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const el = box.current;
    const text = css('--muted');
    const grid = css('--line');
    const axis = (scale, side, label) => ({ scale, side, stroke: text, grid: { stroke: grid, width: 1, show: side === 3 }, ticks: { stroke: grid, width: 1 }, label, labelSize: label ? 18 : 0, size: 48 });
    const opts = {
      width: el.clientWidth || 600,
      height,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true, range: (_u, min, max) => [Math.min(min ?? 0, (max ?? 0) - 300), max ?? 0] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] }, y2: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } },
        axis('y', 3, 'per minute'),
        ...(series.some((s) => s.scale === 'y2') ? [axis('y2', 1, y2Label)] : []),
      ],
      series: [{}, ...series.map((s) => ({ label: s.label, scale: s.scale ?? 'y', stroke: css(s.color), width: 2, points: { show: false }, fill: s.fill ? css(s.color) + '22' : undefined }))],
    };
    plot.current = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: el.clientWidth, height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [series.map((s) => s.label).join()]);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);
  return html`<div class="chart" ref=${box}></div>`;
}

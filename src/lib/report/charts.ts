import { METHOD_LABELS, QUANT_METHODS, type QuantMethod } from '../compress/reference/settings';
import { bitsOf } from '../variants/spec';
import type { ChartOption } from './echarts';
import { formatKl } from './fidelity';
import { PERSPECTIVE_TITLES, formatScore, type Summary } from './summary';

const DIVERGING = ['#b2182b', '#ef8a62', '#fddbc7', '#f7f7f7', '#d1e5f0', '#67a9cf', '#2166ac'];
/** Agreement with dense, from none (red) to full (white). */
const AGREEMENT = ['#b2182b', '#ef8a62', '#fddbc7', '#f7f7f7'];
/** KL to dense, from none (white) upwards: a scale of its own, unlike the signed score change. */
const DIVERGENCE = ['#f7f7f7', '#cbc9e2', '#9e9ac8', '#6a51a3'];
const METHOD_COLORS: Record<QuantMethod, string> = { rtn: '#7f7f7f', gptq: '#1f77b4', awq: '#ff7f0e' };

type HeatCell = [number, number, number | '-'];

/**
 * The paper's figure: score change against dense, rows variants, columns perspectives; ⚑ marks a
 * refusal-rate move over 10 points. When the run measured fidelity, two more columns follow, each
 * on its own colour scale: mean agreement with dense's answers (%) and KL to dense.
 */
export function heatmapOption(s: Summary): ChartOption {
  const rows = s.variants.map((v, i) => ({ v, i })).filter(({ v }) => v.id !== 'dense');
  const data: HeatCell[] = [];
  const agreement: HeatCell[] = [];
  const divergence: HeatCell[] = [];
  const agreeX = s.perspectives.length;
  const klX = agreeX + 1;
  let extreme = 5;
  let klMax = 0;
  const value = (v: number | null | undefined, digits: number): number | '-' =>
    v !== null && v !== undefined && Number.isFinite(v) ? Number(v.toFixed(digits)) : '-';
  rows.forEach(({ i }, y) => {
    s.perspectives.forEach((_, x) => {
      const c = s.cells[i][x];
      const d = c?.delta ?? null;
      if (d !== null && Number.isFinite(d)) extreme = Math.max(extreme, Math.abs(d));
      data.push([x, y, value(d, 1)]);
    });
    const f = s.fidelity[i];
    agreement.push([agreeX, y, value(f.meanAgreement, 1)]);
    divergence.push([klX, y, f.kl !== null && Number.isFinite(f.kl) ? f.kl : '-']);
    if (f.kl !== null && Number.isFinite(f.kl)) klMax = Math.max(klMax, f.kl);
  });
  const columns = s.perspectives.map((p) => PERSPECTIVE_TITLES[p]);
  const series: Record<string, unknown>[] = [
    {
      type: 'heatmap',
      data,
      label: {
        show: true,
        formatter: (p: { data: HeatCell }) => {
          const [x, y, d] = p.data;
          const shift = s.cells[rows[y].i][x]?.refusalShift;
          return `${d === '-' ? '—' : d > 0 ? `+${d}` : d}${shift !== null && shift !== undefined ? ' ⚑' : ''}`;
        },
      },
    },
  ];
  const visualMap: Record<string, unknown>[] = [
    {
      seriesIndex: 0,
      min: -Math.ceil(extreme),
      max: Math.ceil(extreme),
      calculable: true,
      orient: 'vertical',
      right: 10,
      top: 'middle',
      inRange: { color: DIVERGING },
      itemHeight: 100,
    },
  ];
  if (s.hasFidelity) {
    columns.push('Agrees w/ dense %', 'KL to dense');
    series.push(
      {
        type: 'heatmap',
        data: agreement,
        label: { show: true, formatter: (p: { data: HeatCell }) => (p.data[2] === '-' ? '—' : `${p.data[2]}%`) },
      },
      {
        type: 'heatmap',
        data: divergence,
        label: { show: true, formatter: (p: { data: HeatCell }) => formatKl(p.data[2] === '-' ? null : p.data[2]) },
      },
    );
    // The numbers are printed in the cells; these scales only colour them, so they take no legend.
    visualMap.push(
      { seriesIndex: 1, show: false, min: 0, max: 100, inRange: { color: AGREEMENT } },
      { seriesIndex: 2, show: false, min: 0, max: klMax > 0 ? klMax : 1, inRange: { color: DIVERGENCE } },
    );
  }
  return {
    title: {
      text: `Score change vs dense (${s.mode})${s.hasFidelity ? ' · fidelity to dense' : ''}`,
      left: 'center',
      textStyle: { fontSize: 14 },
    },
    tooltip: { position: 'top' },
    grid: { left: 110, right: 90, top: 40, bottom: 60 },
    xAxis: { type: 'category', data: columns, axisLabel: { interval: 0, rotate: 20 } },
    yAxis: { type: 'category', data: rows.map(({ v }) => v.label), inverse: true },
    visualMap,
    series,
  };
}

/** Whether the bits curve has anything to plot: a quantized variant. */
export function hasQuantized(s: Summary): boolean {
  return s.variants.some((v) => v.spec !== null && bitsOf(v.spec) !== null);
}

/** What the bits curve plots: the mean trust score, one perspective (by index), or the KL to dense. */
export type CurveOf = number | 'mean' | 'kl';

/** Mean trust score (MMLU excluded), one perspective or KL to dense, against bits, per quantization method, with dense as a line. */
export function bitsCurveOption(s: Summary, perspective: CurveOf = 'mean'): ChartOption {
  const trust = s.perspectives.map((p, i) => ({ p, i })).filter(({ p }) => p !== 'mmlu');
  const value = (row: number): number | null => {
    const cells = s.cells[row];
    if (perspective === 'kl') return s.fidelity[row]?.kl ?? null;
    if (perspective !== 'mean') return cells[perspective]?.score ?? null;
    const scores = trust.map(({ i }) => cells[i]?.score).filter((v): v is number => v !== undefined && Number.isFinite(v));
    return scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : null;
  };
  const denseRow = s.variants.findIndex((v) => v.id === 'dense');
  const dense = denseRow >= 0 ? value(denseRow) : null;
  const series = QUANT_METHODS.map((method) => {
    const points = s.variants
      .flatMap((v, row) => {
        const bits = v.spec?.method === method ? bitsOf(v.spec) : null;
        return bits ? [[bits, value(row)] as [number, number | null]] : [];
      })
      .filter(([, y]) => y !== null)
      .sort((a, b) => a[0] - b[0]);
    return {
      name: METHOD_LABELS[method],
      type: 'line',
      data: points,
      symbolSize: 8,
      lineStyle: { color: METHOD_COLORS[method] },
      itemStyle: { color: METHOD_COLORS[method] },
    };
  }).filter((x) => x.data.length > 0);
  if (dense !== null && series.length && perspective !== 'kl') {
    (series[0] as Record<string, unknown>).markLine = {
      symbol: 'none',
      label: { formatter: `dense ${formatScore(dense)}` },
      lineStyle: { type: 'dashed', color: '#333' },
      data: [{ yAxis: Number(dense.toFixed(2)) }],
    };
  }
  const name =
    perspective === 'mean' ? 'Mean trust score' : perspective === 'kl' ? 'KL to dense' : PERSPECTIVE_TITLES[s.perspectives[perspective]];
  return {
    title: { text: `${name} against bits`, left: 'center', textStyle: { fontSize: 14 } },
    tooltip: { trigger: 'axis' },
    legend: { bottom: 0 },
    grid: { left: 50, right: 30, top: 40, bottom: 50 },
    xAxis: { type: 'value', name: 'bits', min: 2, max: 9, interval: 1 },
    yAxis: perspective === 'kl' ? { type: 'value', name: 'nats/token', min: 0 } : { type: 'value', name: 'score', min: 0, max: 100 },
    series,
  };
}

/** One polygon per variant over the perspectives. */
export function radarOption(s: Summary, variantIds?: string[]): ChartOption {
  const chosen = s.variants.map((v, row) => ({ v, row })).filter(({ v }) => !variantIds || variantIds.includes(v.id));
  return {
    title: { text: 'Scores per perspective', left: 'center', textStyle: { fontSize: 14 } },
    tooltip: {},
    legend: { bottom: 0, type: 'scroll' },
    radar: { indicator: s.perspectives.map((p) => ({ name: PERSPECTIVE_TITLES[p], max: 100 })), radius: '60%' },
    series: [
      {
        type: 'radar',
        data: chosen.map(({ v, row }) => ({
          name: v.label,
          value: s.perspectives.map((_, i) => Number((s.cells[row][i]?.score ?? 0).toFixed(1))),
        })),
      },
    ],
  };
}

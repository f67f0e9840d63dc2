// Rapportage: aggregates for a period and wijk(en) — never an id, name or address. Each section
// is a table; the count sections also a bar chart (Debian's Chart.js) with the same figures.
// Cells of 1 to 4 read "<5". The same report as CSV from the same route.
import { api } from '../api.js';
import { el, show, field } from '../dom.js';
import { wijkName, loadReference } from '../labels.js';

const SECTIONS = {
  signalen: 'Signalen',
  signalen_per_categorie: 'Signalen per categorie',
  signalen_per_bron: 'Signalen per bron',
  eerste_poging: 'Tijd tot de eerste contactpoging',
  eerste_gesprek: 'Tijd tot het eerste gesprek',
  pogingen_per_casus: 'Pogingen per casus',
  afsluitingen: 'Afsluitingen per afsluitcode',
  open_caseload: 'Open casussen naar leeftijd',
};
const CHARTED = new Set(['signalen_per_categorie', 'signalen_per_bron', 'afsluitingen', 'open_caseload']);

let chartLoaded = null;
function loadChart() {
  if (!chartLoaded) {
    chartLoaded = new Promise((ok, fail) => {
      const s = document.createElement('script');
      s.src = '/console/vendor/chart.min.js';
      s.onload = () => ok(window.Chart);
      s.onerror = () => fail(new Error('Chart.js kon niet geladen worden'));
      document.head.append(s);
    });
  }
  return chartLoaded;
}

function isoDay(d) {
  return d.toISOString().slice(0, 10);
}

export async function rapportagePage() {
  const ref = await loadReference();
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const today = new Date();
  const from = el('input', { type: 'date', name: 'from', id: 'r-from', value: params.get('from') || isoDay(new Date(today.getFullYear(), 0, 1)), required: true });
  const to = el('input', { type: 'date', name: 'to', id: 'r-to', value: params.get('to') || isoDay(today), required: true });
  const wijk = el('select', { name: 'wijk', id: 'r-wijk' }, el('option', { value: '' }, 'al mijn wijken'),
    ...(ref.wijken || []).map((w) => el('option', { value: w.code, selected: w.code === params.get('wijk') }, wijkName(w.code))));
  const form = el('form', { class: 'filters', id: 'report-form', onsubmit: (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams({ from: from.value, to: to.value });
    if (wijk.value) q.set('wijk', wijk.value);
    location.hash = 'rapportage?' + q.toString();
  } }, field('Van', from), field('Tot en met', to), field('Wijk', wijk), el('button', { type: 'submit' }, 'Tonen'));
  const q = new URLSearchParams({ from: from.value, to: to.value });
  if (wijk.value) q.set('wijk', wijk.value);
  const report = await api('GET', '/v1/console/report?' + q.toString());
  const bySection = new Map();
  for (const row of report.rows || []) {
    if (!bySection.has(row.section)) bySection.set(row.section, []);
    bySection.get(row.section).push(row);
  }
  const parts = [];
  const charts = [];
  for (const [section, rows] of bySection) {
    const title = SECTIONS[section] || section;
    const table = el('table', { class: 'report', id: 'report-' + section },
      el('caption', {}, title),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Onderdeel'), el('th', { scope: 'col' }, 'Waarde'))),
      el('tbody', {}, ...rows.map((r) => el('tr', {}, el('th', { scope: 'row' }, r.label), el('td', { class: r.suppressed ? 'suppressed' : undefined }, r.value)))));
    const block = el('section', { 'aria-label': title }, table);
    if (CHARTED.has(section)) {
      const shown = rows.filter((r) => r.key !== 'totaal');
      const canvas = el('canvas', { role: 'img', 'aria-label': title + ': ' + shown.map((r) => r.label + ' ' + r.value).join(', ') });
      block.append(el('div', { class: 'chart' }, canvas));
      charts.push([canvas, shown]);
    }
    parts.push(block);
  }
  const csv = el('a', { href: '/v1/console/report.csv?' + q.toString(), download: 'rapportage.csv', id: 'report-csv' }, 'Download als CSV');
  show(el('h1', {}, 'Rapportage'), form,
    el('p', {}, 'Periode ' + report.from + ' tot en met ' + report.to + ' · wijken ' + (report.wijken || []).join(', ') + ' · ', csv),
    el('p', { class: 'hint' }, 'Aantallen van 1 tot 4 staan als "<5", zodat niemand herkenbaar is.'), ...parts);
  if (charts.length) {
    const Chart = await loadChart();
    for (const [canvas, rows] of charts) {
      // A suppressed cell is drawn as 0 with its "<5" in the table beside it.
      new Chart(canvas, {
        type: 'bar',
        data: { labels: rows.map((r) => r.label), datasets: [{ label: 'aantal', data: rows.map((r) => (r.suppressed ? 0 : Number(r.value) || 0)), backgroundColor: '#0b4f8a' }] },
        options: { animation: false, plugins: { legend: { display: false } }, responsive: true, maintainAspectRatio: false },
      });
    }
  }
}

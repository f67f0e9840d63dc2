// Overzicht: the open caseload of my wijken, overdue first, with filters and each norm clock.
import { api } from '../api.js';
import { el, show, when, field } from '../dom.js';
import { label, categoryLabel, workerName, wijkName, shortId, val, num, PRIORITIES, CASE_STATES, CASE_STATE_ENUM, loadReference } from '../labels.js';

function clock(c) {
  if (!c || !c.due_ms || c.due_ms === '0') return '—';
  const state = c.state || 'NORM_STATE_OPEN';
  const cls = state === 'NORM_STATE_MISSED' ? 'overdue' : state === 'NORM_STATE_MET' ? 'met' : 'due';
  const late = state === 'NORM_STATE_MISSED' && c.days_late ? ' (' + c.days_late + ' d)' : '';
  return el('span', { class: cls }, label(state) + late + ' · uiterlijk ' + when(c.due_ms));
}

export async function overzichtPage() {
  const ref = await loadReference();
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const select = (name, options, current) => el('select', { name, id: 'f-' + name },
    ...options.map(([v, text]) => el('option', { value: v, selected: v === current }, text)));
  const wijk = select('wijk', [['', 'alle'], ...(ref.wijken || []).map((w) => [w.code, wijkName(w.code)])], params.get('wijk') || '');
  const coach = select('coach', [['', 'iedereen'], ['-', 'niet toegewezen'], ...(ref.workers || []).filter((w) => w.role === 'SOURCE_ROLE_WIJKCOACH').map((w) => [w.id, w.name])], params.get('coach') || '');
  const state = select('state', [['', 'alle open'], ...Object.entries(CASE_STATES).filter(([n]) => n < 8 || n === '10').map(([n, t]) => [CASE_STATE_ENUM[n], t])], params.get('state') || '');
  const category = select('category', [['', 'alle'], ...(ref.categories || []).map((c) => [c.code, c.label])], params.get('category') || '');
  const overdue = el('input', { type: 'checkbox', name: 'overdue', id: 'f-overdue', checked: params.get('overdue') === '1' });
  const form = el('form', { class: 'filters', id: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of [['wijk', wijk.value], ['coach', coach.value], ['state', state.value], ['category', category.value]]) if (v) q.set(k, v);
    if (overdue.checked) q.set('overdue', '1');
    location.hash = 'overzicht?' + q.toString();
  } }, field('Wijk', wijk), field('Coach', coach), field('Status', state), field('Categorie', category),
  el('label', {}, overdue, ' alleen te laat'), el('button', { type: 'submit' }, 'Filteren'));
  const q = new URLSearchParams(params);
  q.set('limit', '200');
  const r = await api('GET', '/v1/console/overview?' + q.toString());
  const rows = r.rows || [];
  const table = el('table', { id: 'overview' },
    el('caption', {}, (r.total || 0) + ' open casussen, waarvan ' + (r.overdue || 0) + ' te laat'),
    el('thead', {}, el('tr', {}, ...['Casus', 'Wijk', 'Coach', 'Status', 'Prioriteit', 'Categorieën', 'Eerste poging', 'Eerste gesprek'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows.map((row) => {
      const c = row.case;
      return el('tr', { class: row.overdue ? 'overdue-row' : undefined },
        el('td', {}, el('a', { href: '#casus/' + encodeURIComponent(c.id) }, shortId(c.id) + ' ' + val(c.title))),
        el('td', {}, val(c.wijk)), el('td', {}, workerName(val(c.assignee)) || 'niet toegewezen'),
        el('td', {}, CASE_STATES[num(c.state)] || ''), el('td', {}, label(row.priority) || PRIORITIES[9]),
        el('td', {}, (c.categories || []).filter((e) => e.present).map((e) => categoryLabel(e.value)).join(', ')),
        el('td', {}, clock(row.first_attempt)), el('td', {}, clock(row.first_gesprek)));
    })));
  show(el('h1', {}, 'Overzicht'), form, table);
}

// Casus: one case whole — signals, contact moments (superseded ones marked), transitions,
// assignment and priority history — and the coordinator's actions on it.
import { api, act } from '../api.js';
import { el, show, when, field, announce } from '../dom.js';
import { label, categoryLabel, workerName, shortId, val, num, addressText, CASE_STATES, CASE_STATE_ENUM, PRIORITY_ENUM, PRIORITIES, TRIAGE_STATES, resolutionLabel, loadReference } from '../labels.js';

function section(title, ...body) {
  return el('section', { 'aria-labelledby': 'h-' + title }, el('h2', { id: 'h-' + title }, title), ...body);
}

export async function casusPage([caseId]) {
  const ref = await loadReference();
  const d = await api('GET', '/v1/console/cases/' + encodeURIComponent(caseId || ''));
  const c = d.kase;
  const error = el('p', { class: 'error', role: 'alert' });
  const runAction = async (action, done) => {
    error.textContent = '';
    try {
      const { refusal, result: r } = await act(action);
      if (refusal) {
        error.textContent = refusal;
        return;
      }
      announce(done);
      await casusPage([r.case_id || c.id]);
    } catch (e) {
      error.textContent = e.message;
    }
  };
  const assignee = el('select', { name: 'assignee', id: 'assignee' },
    ...(d.assignees || []).map((w) => el('option', { value: w.id, selected: w.id === val(c.assignee) }, w.name)));
  const assignReason = el('input', { name: 'assign-reason' });
  const prio = el('select', { name: 'priority', id: 'priority' },
    ...Object.entries(PRIORITY_ENUM).map(([n, e]) => el('option', { value: e, selected: d.priority === e }, PRIORITIES[n])));
  const prioReason = el('input', { name: 'priority-reason', required: true });
  const moveTo = el('select', { name: 'move-to', id: 'move-to' },
    ...Object.entries(CASE_STATE_ENUM).filter(([n]) => Number(n) !== num(c.state) && n !== '1').map(([n, e]) => el('option', { value: e }, CASE_STATES[n])));
  const resolution = el('select', { name: 'resolution', id: 'resolution' }, el('option', { value: '' }, '—'),
    ...(ref.resolution_codes || []).map((r) => el('option', { value: r.code }, r.label)));
  const moveReason = el('input', { name: 'move-reason' });
  const mergeInto = el('input', { name: 'merge-into', placeholder: 'casus-id' });
  const mergeReason = el('input', { name: 'merge-reason' });
  show(
    el('h1', {}, 'Casus ' + shortId(c.id) + ' — ' + val(c.title)),
    el('p', {}, addressText(c.address && c.address.value), ' · wijk ', val(c.wijk), ' · ',
      el('strong', { id: 'case-state' }, CASE_STATES[num(c.state)] || ''), ' · prioriteit ', label(d.priority),
      ' · coach ', el('span', { id: 'case-assignee' }, workerName(val(c.assignee)) || 'niet toegewezen')),
    val(c.resolution_code) ? el('p', {}, 'Afgesloten: ', resolutionLabel(val(c.resolution_code))) : null,
    error,
    section('Acties',
      el('form', { class: 'stack', id: 'assign', onsubmit: (ev) => { ev.preventDefault(); runAction({ assignCase: { caseId: c.id, workerId: assignee.value, reason: assignReason.value } }, 'Toegewezen'); } },
        field('Coach', assignee), field('Reden (optioneel)', assignReason), el('button', { type: 'submit' }, 'Toewijzen')),
      el('form', { class: 'stack', id: 'set-priority', onsubmit: (ev) => { ev.preventDefault(); runAction({ setPriority: { caseId: c.id, priority: prio.value, reason: prioReason.value } }, 'Prioriteit gezet'); } },
        field('Prioriteit', prio), field('Reden', prioReason), el('button', { type: 'submit' }, 'Prioriteit zetten')),
      el('form', { class: 'stack', id: 'move', onsubmit: (ev) => { ev.preventDefault(); runAction({ moveCase: { caseId: c.id, to: moveTo.value, reason: moveReason.value, resolutionCode: resolution.value } }, 'Status gewijzigd'); } },
        field('Naar status', moveTo), field('Afsluitcode (bij afsluiten)', resolution), field('Reden', moveReason), el('button', { type: 'submit' }, 'Status wijzigen')),
      el('form', { class: 'stack', id: 'merge', onsubmit: (ev) => { ev.preventDefault(); runAction({ mergeCase: { caseId: c.id, intoId: mergeInto.value.trim(), reason: mergeReason.value } }, 'Samengevoegd'); } },
        field('Samenvoegen met casus', mergeInto), field('Reden', mergeReason), el('button', { type: 'submit' }, 'Samenvoegen'))),
    section('Signalen', el('ul', { id: 'case-signals' }, ...(d.signals || []).map((s) => el('li', {},
      'Signaal ' + shortId(s.id) + ' (' + (TRIAGE_STATES[num(s.triage_state)] || '') + '), ' + when(s.content && s.content.observed_at_ms) + ', ' +
      ((s.content && s.content.categories) || []).map(categoryLabel).join(', ') + ': ', el('span', { class: 'text' }, (s.content && s.content.text) || ''))))),
    section('Contactmomenten', el('ul', { id: 'case-moments' }, ...(d.moments || []).map((m) => el('li', { class: m.superseded ? 'superseded' : undefined },
      when(m.moment.at_ms) + ' · ' + label(m.moment.kind) + ' · ' + label(m.moment.outcome) + ' · ' + workerName(m.moment.author_id) +
      (m.superseded ? ' (vervangen door een correctie)' : '') + ': ', el('span', { class: 'text' }, m.moment.note || ''))))),
    section('Statusovergangen', el('ul', { id: 'case-transitions' }, ...(d.transitions || []).map((t) => el('li', {},
      when(t.at_ms) + ' · ' + label(t.from) + ' → ' + label(t.to) + ' · ' + workerName(t.actor_id) +
      (num(t.outcome) === 3 ? ' · CONFLICT' : '') + (t.reason ? ': ' : ''), el('span', { class: 'text' }, t.reason || ''))))),
    section('Toewijzing en prioriteit', el('ul', { id: 'case-history' }, ...(c.history || []).map((h) => el('li', {},
      when(h.at_ms) + ' · ' + (h.field === 'FIELD_ASSIGNEE' ? 'coach: ' + (workerName(h.from) || '—') + ' → ' + workerName(h.to) : 'prioriteit: ' + (h.from || '—') + ' → ' + h.to) +
      ' · door ' + workerName(h.actor_id) + (h.reason ? ': ' : ''), el('span', { class: 'text' }, h.reason || ''))))));
}

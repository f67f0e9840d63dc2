// Conflicten: cases whose moves contradicted each other; both moves side by side, resolved with
// a choice and a reason.
import { api, act } from '../api.js';
import { el, show, when, field, announce } from '../dom.js';
import { label, workerName, shortId, val, CASE_STATES, num } from '../labels.js';

export async function conflictenPage() {
  const r = await api('GET', '/v1/console/conflicts');
  const cases = r.cases || [];
  const rows = cases.map((cc) => {
    const c = cc.kase;
    const error = el('p', { class: 'error', role: 'alert' });
    const reason = el('input', { name: 'reason', required: true });
    const choices = el('select', { name: 'to' }, el('option', { value: 'CASE_STATE_UNSPECIFIED' }, 'laten staan (' + (CASE_STATES[num(c.state)] || '') + ')'),
      ...(cc.moves || []).map((m) => el('option', { value: m.transition.to }, 'naar ' + label(m.transition.to) + ' (' + workerName(m.transition.actor_id) + ')')));
    return el('article', { class: 'conflict', 'data-id': c.id },
      el('h2', {}, el('a', { href: '#casus/' + encodeURIComponent(c.id) }, 'Casus ' + shortId(c.id) + ' — ' + val(c.title))),
      el('table', {}, el('thead', {}, el('tr', {}, ...['Van', 'Naar', 'Wie', 'Wanneer', 'Reden'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, ...(cc.moves || []).map((m) => el('tr', {}, el('td', {}, label(m.transition.from)), el('td', {}, label(m.transition.to)),
          el('td', {}, workerName(m.transition.actor_id)), el('td', {}, when(m.transition.at_ms)), el('td', { class: 'text' }, m.transition.reason || ''))))),
      el('form', { class: 'stack', onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          const { refusal } = await act({ resolveConflict: { caseId: c.id, to: choices.value, reason: reason.value } });
          if (refusal) { error.textContent = refusal; return; }
          announce('Conflict opgelost');
          await conflictenPage();
        } catch (e) { error.textContent = e.message; }
      } }, field('Keuze', choices), field('Reden', reason), el('button', { type: 'submit' }, 'Oplossen'), error));
  });
  show(el('h1', {}, 'Conflicten'), cases.length ? el('div', { id: 'conflicts' }, ...rows) : el('p', { id: 'conflicts' }, 'Geen conflicten.'));
}

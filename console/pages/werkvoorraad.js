// Werkvoorraad: the untriaged signals of my wijken, urgency then age, with "zelfde huishouden"
// hints; per signal: open a case, link to a case, mark as duplicate, reject. Live: a long poll
// on /v1/console/events reloads the list when something of mine commits.
import { api, act } from '../api.js';
import { el, show, announce, when, field } from '../dom.js';
import { label, categoryLabel, addressText, shortId, loadReference } from '../labels.js';

let generation = 0;  // a newer render or another page stops the previous long poll

async function waitForChanges(gen, after, reload) {
  let seq = after;
  while (gen === generation && location.hash.startsWith('#werkvoorraad')) {
    try {
      const r = await api('GET', '/v1/console/events?after=' + encodeURIComponent(seq));
      if (gen !== generation) return;
      if (r.seq && r.seq !== seq) {
        seq = r.seq;
        if (r.changed) await reload();
      }
    } catch {
      await new Promise((ok) => setTimeout(ok, 2000));
    }
  }
}

function actionForm(item, reload) {
  const s = item.signal;
  const error = el('p', { class: 'error', role: 'alert' });
  const run = async (action, done) => {
    error.textContent = '';
    try {
      const { refusal } = await act(action);
      if (refusal) {
        error.textContent = refusal;
        return;
      }
      announce(done);
      await reload();
    } catch (e) {
      error.textContent = e.message;
    }
  };
  const title = el('input', { name: 'title', value: categoryLabel((s.content.categories || [])[0] || '') });
  const caseSearch = el('input', { name: 'case', placeholder: 'volledig casusnummer' });
  const found = el('select', { name: 'found' });
  const dupOf = el('input', { name: 'duplicate-of', placeholder: 'volledig signaalnummer' });
  const reason = el('input', { name: 'reason' });
  const hintCases = (item.hint && item.hint.open_case_ids) || [];
  for (const id of hintCases) found.append(el('option', { value: id }, 'casus ' + shortId(id) + ' (zelfde huishouden)'));
  const id = 'sig-' + shortId(s.id);
  return el('details', { class: 'actions' }, el('summary', {}, 'Beoordelen'),
    el('form', { class: 'stack', id: id + '-open', onsubmit: (ev) => { ev.preventDefault(); run({ openCase: { fromSignal: s.id, title: title.value } }, 'Casus geopend'); } },
      field('Titel van de nieuwe casus', title), el('button', { type: 'submit' }, 'Casus openen')),
    el('form', { class: 'stack', id: id + '-link', onsubmit: (ev) => { ev.preventDefault(); const target = caseSearch.value.trim() || found.value; if (target) run({ linkSignal: { signalId: s.id, caseId: target } }, 'Gekoppeld'); else error.textContent = 'Kies een casus of vul een casusnummer in'; } },
      field('Koppelen aan casus van dit huishouden', found), field('of casusnummer', caseSearch), el('button', { type: 'submit' }, 'Koppelen')),
    el('form', { class: 'stack', id: id + '-dup', onsubmit: (ev) => { ev.preventDefault(); run({ markDuplicate: { signalId: s.id, ofSignalId: dupOf.dataset.id || dupOf.value } }, 'Als duplicaat gemarkeerd'); } },
      field('Duplicaat van signaal', dupOf), el('button', { type: 'submit' }, 'Markeer als duplicaat')),
    el('form', { class: 'stack', id: id + '-reject', onsubmit: (ev) => { ev.preventDefault(); run({ rejectSignal: { signalId: s.id, reason: reason.value } }, 'Afgewezen'); } },
      field('Reden van afwijzen', reason), el('button', { type: 'submit' }, 'Afwijzen')),
    error);
}

export async function werkvoorraadPage() {
  const gen = ++generation;
  await loadReference();
  const list = el('div', { id: 'queue' });
  const count = el('p', { id: 'queue-count' });
  let lastSeq = '0';
  const reload = async () => {
    const r = await api('GET', '/v1/console/queue');
    lastSeq = r.seq || lastSeq;
    const items = r.items || [];
    count.textContent = items.length === 1 ? '1 signaal te beoordelen' : items.length + ' signalen te beoordelen';
    list.replaceChildren(...items.map((item) => {
      const s = item.signal;
      const c = s.content || {};
      const hint = item.hint || {};
      const hintText = [];
      if ((hint.open_case_ids || []).length) hintText.push((hint.open_case_ids.length === 1 ? '1 open casus' : hint.open_case_ids.length + ' open casussen') + ' op dit adres');
      if (Number(hint.recent_signals || 0) > 0) hintText.push(hint.recent_signals + ' andere signalen in 12 weken');
      return el('article', { class: 'signal', 'data-id': s.id, 'aria-labelledby': 'h-' + s.id },
        el('h2', { id: 'h-' + s.id }, 'Signaal ' + shortId(s.id) + ' — ' + addressText(c.address)),
        el('p', {}, 'Urgentie ', el('strong', {}, label(c.urgency)), ' · ', when(c.observed_at_ms), ' · ',
          (c.categories || []).map(categoryLabel).join(', '), ' · gemeld door ', label(c.source_role)),
        el('p', { class: 'text' }, c.text || ''),
        hintText.length ? el('p', { class: 'hint' }, 'Zelfde huishouden: ', hintText.join('; ')) : null,
        actionForm(item, reload));
    }));
  };
  await reload();
  show(el('h1', {}, 'Werkvoorraad'), count, list);
  waitForChanges(gen, lastSeq, reload);
}

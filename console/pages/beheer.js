// Beheer (functioneel beheer, admins only): workers, devices, enrollment codes, categories with
// labels and norms, wijken. Nothing here shows case content; a caseload moves by counts only.
import { api } from '../api.js';
import { el, show, field, announce, when } from '../dom.js';
import { label, PRIORITY_ENUM, PRIORITIES } from '../labels.js';

function form(id, fields, submitLabel, action) {
  const error = el('p', { class: 'error', role: 'alert' });
  const out = el('p', { class: 'result', id: id + '-result' });
  return el('form', { class: 'stack', id, onsubmit: async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    out.textContent = '';
    try {
      const msg = await action();
      if (msg) out.textContent = msg;
    } catch (e) {
      error.textContent = e.message;
    }
  } }, ...fields, el('button', { type: 'submit' }, submitLabel), error, out);
}

const ROLES = [['SOURCE_ROLE_WIJKCOACH', 'wijkcoach'], ['SOURCE_ROLE_ZORGMEDEWERKER', 'zorgmedewerker'], ['SOURCE_ROLE_COORDINATOR', 'coördinator'], ['SOURCE_ROLE_ADMIN', 'beheerder']];

export async function beheerPage() {
  const [workers, devices, categories, wijken] = await Promise.all([
    api('GET', '/v1/console/admin/workers'), api('GET', '/v1/console/admin/devices'),
    api('GET', '/v1/console/admin/categories'), api('GET', '/v1/console/admin/wijken')]);
  const reload = () => beheerPage();
  const workerRows = (workers.workers || []).map((w) => el('tr', {},
    el('td', {}, w.id), el('td', {}, w.name), el('td', {}, label(w.role)), el('td', {}, (w.wijken || []).join(', ')),
    el('td', {}, w.active ? 'actief' : 'inactief'),
    el('td', {}, w.active ? el('button', { type: 'button', class: 'secondary', 'aria-label': 'Code voor ' + w.name, onclick: async () => {
      const r = await api('POST', '/v1/console/admin/enroll-code', { workerId: w.id });
      announce('Code voor ' + w.name + ': ' + r.code);
      document.getElementById('code-out').textContent = 'Eenmalige code voor ' + w.name + ': ' + r.code;
    } }, 'Code') : null, ' ',
    w.active ? el('button', { type: 'button', class: 'secondary', 'aria-label': 'Deactiveer ' + w.name, onclick: async () => {
      await api('POST', '/v1/console/admin/deactivate', { workerId: w.id });
      reload();
    } }, 'Deactiveren') : null, ' ',
    el('button', { type: 'button', class: 'secondary', 'aria-label': 'Ontgrendel ' + w.name, onclick: async () => {
      await api('POST', '/v1/console/admin/unlock', { workerId: w.id });
      announce('Ontgrendeld: ' + w.name);
    } }, 'Ontgrendelen'))));
  const nw = { id: el('input', { name: 'id', required: true }), name: el('input', { name: 'name', required: true }),
    role: el('select', { name: 'role' }, ...ROLES.map(([v, t]) => el('option', { value: v }, t))),
    wijken: el('input', { name: 'wijken', placeholder: 'WK015301, WK015302' }) };
  const ra = { from: el('input', { name: 'from', required: true }), to: el('input', { name: 'to', required: true }),
    wijk: el('input', { name: 'wijk' }), reason: el('input', { name: 'reason', required: true }) };
  const cat = { code: el('input', { name: 'code', required: true }), label: el('input', { name: 'label', required: true }),
    priority: el('select', { name: 'priority' }, ...Object.entries(PRIORITY_ENUM).map(([n, e]) => el('option', { value: e }, PRIORITIES[n]))),
    days: el('input', { name: 'days', type: 'number', min: 1, value: 10 }), gesprek: el('input', { name: 'gesprek-days', type: 'number', min: 1, value: 28 }),
    working: el('input', { name: 'working', type: 'checkbox' }), sensitive: el('input', { name: 'sensitive', type: 'checkbox' }) };
  const wk = { code: el('input', { name: 'code', required: true, placeholder: 'WK015305' }), name: el('input', { name: 'name', required: true }) };
  show(el('h1', {}, 'Beheer'),
    el('section', { 'aria-labelledby': 'h-workers' }, el('h2', { id: 'h-workers' }, 'Medewerkers'),
      el('table', { id: 'workers' }, el('thead', {}, el('tr', {}, ...['Id', 'Naam', 'Rol', 'Wijken', 'Status', 'Acties'].map((h) => el('th', { scope: 'col' }, h)))), el('tbody', {}, ...workerRows)),
      el('p', { id: 'code-out', role: 'status' }),
      el('h3', {}, 'Medewerker toevoegen'),
      form('add-worker', [field('Id', nw.id), field('Naam', nw.name), field('Rol', nw.role), field('Wijken', nw.wijken)], 'Toevoegen', async () => {
        await api('POST', '/v1/console/admin/workers', { worker: { id: nw.id.value.trim(), name: nw.name.value.trim(), role: nw.role.value, active: true,
          wijken: nw.wijken.value.split(',').map((s) => s.trim()).filter(Boolean) } });
        reload();
      }),
      el('h3', {}, 'Caseload overdragen'),
      form('reassign', [field('Van medewerker', ra.from), field('Naar medewerker', ra.to), field('Alleen wijk (optioneel)', ra.wijk), field('Reden', ra.reason)], 'Overdragen', async () => {
        const r = await api('POST', '/v1/console/admin/reassign', { from: ra.from.value.trim(), to: ra.to.value.trim(), wijk: ra.wijk.value.trim(), reason: ra.reason.value });
        return (r.moved || 0) + ' casussen overgedragen';
      })),
    el('section', { 'aria-labelledby': 'h-devices' }, el('h2', { id: 'h-devices' }, 'Apparaten'),
      el('table', { id: 'devices' }, el('thead', {}, el('tr', {}, ...['Apparaat', 'Medewerker', 'Laatst gezien', 'Status', ''].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, ...(devices.devices || []).map((d) => el('tr', {}, el('td', {}, d.name), el('td', {}, d.worker_id), el('td', {}, when(d.last_seen_ms)),
          el('td', {}, d.revoked ? 'ingetrokken' : 'actief'),
          el('td', {}, d.revoked ? null : el('button', { type: 'button', class: 'secondary', 'aria-label': 'Trek ' + d.name + ' in', onclick: async () => {
            await api('POST', '/v1/console/admin/revoke', { deviceId: d.id });
            reload();
          } }, 'Intrekken'))))))),
    el('section', { 'aria-labelledby': 'h-categories' }, el('h2', { id: 'h-categories' }, 'Categorieën en normen'),
      el('table', { id: 'categories' }, el('thead', {}, el('tr', {}, ...['Code', 'Label', 'Prioriteit', 'Eerste poging (dagen)', 'Eerste gesprek (dagen)', 'Werkdagen', 'Gevoelig'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, ...(categories.categories || []).map((c) => el('tr', {}, el('td', {}, c.code), el('td', {}, c.label), el('td', {}, label(c.default_priority)),
          el('td', {}, c.first_contact_days || ''), el('td', {}, c.first_gesprek_days || ''), el('td', {}, c.working_days ? 'ja' : 'nee'), el('td', {}, c.sensitive ? 'ja' : 'nee'))))),
      form('set-category', [field('Code', cat.code), field('Label', cat.label), field('Prioriteit', cat.priority), field('Eerste poging binnen (dagen)', cat.days),
        field('Eerste gesprek binnen (dagen)', cat.gesprek), el('label', {}, cat.working, ' werkdagen tellen'), el('label', {}, cat.sensitive, ' gevoelige informatie')], 'Opslaan', async () => {
        await api('POST', '/v1/console/admin/categories', { category: { code: cat.code.value.trim(), label: cat.label.value.trim(), defaultPriority: cat.priority.value,
          firstContactDays: Number(cat.days.value), firstGesprekDays: Number(cat.gesprek.value), workingDays: cat.working.checked, sensitive: cat.sensitive.checked } });
        reload();
      })),
    el('section', { 'aria-labelledby': 'h-wijken' }, el('h2', { id: 'h-wijken' }, 'Wijken'),
      el('ul', { id: 'wijken' }, ...(wijken.wijken || []).map((w) => el('li', {}, w.code + ' — ' + w.name))),
      form('add-wijk', [field('CBS-code', wk.code), field('Naam', wk.name)], 'Toevoegen', async () => {
        await api('POST', '/v1/console/admin/wijken', { wijk: { code: wk.code.value.trim(), name: wk.name.value.trim() } });
        reload();
      })));
}

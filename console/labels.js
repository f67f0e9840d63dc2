// Dutch names for the model's numbers and enum names, and the reference data (category labels,
// workers, wijken, resolution codes) the server sends once per login.
import { api } from './api.js';

export const CASE_STATES = {
  1: 'nieuw', 2: 'toegewezen', 3: 'contact zoeken', 4: 'in behandeling', 5: 'wacht',
  6: 'doorverwezen', 7: 'nazorg', 8: 'afgesloten', 9: 'geannuleerd', 10: 'heropend',
};
export const CASE_STATE_ENUM = {
  1: 'CASE_STATE_NIEUW', 2: 'CASE_STATE_TOEGEWEZEN', 3: 'CASE_STATE_CONTACT_ZOEKEN',
  4: 'CASE_STATE_IN_BEHANDELING', 5: 'CASE_STATE_WACHT', 6: 'CASE_STATE_DOORVERWEZEN',
  7: 'CASE_STATE_NAZORG', 8: 'CASE_STATE_AFGESLOTEN', 9: 'CASE_STATE_GEANNULEERD',
  10: 'CASE_STATE_HEROPEND',
};
export const PRIORITIES = { 1: 'acuut', 2: 'hoog', 3: 'normaal', 4: 'laag', 9: 'geen' };
export const PRIORITY_ENUM = { 1: 'PRIORITY_ACUUT', 2: 'PRIORITY_HOOG', 3: 'PRIORITY_NORMAAL', 4: 'PRIORITY_LAAG' };
const ENUM_LABELS = {
  URGENCY_LAAG: 'laag', URGENCY_NORMAAL: 'normaal', URGENCY_HOOG: 'hoog', URGENCY_ACUUT: 'acuut',
  SOURCE_ROLE_ZORGMEDEWERKER: 'zorgmedewerker', SOURCE_ROLE_WIJKCOACH: 'wijkcoach',
  SOURCE_ROLE_COORDINATOR: 'coördinator', SOURCE_ROLE_ADMIN: 'beheerder',
  ROLE_ZORGMEDEWERKER: 'zorgmedewerker', ROLE_WIJKCOACH: 'wijkcoach', ROLE_COORDINATOR: 'coördinator',
  ROLE_ADMIN: 'beheerder',
  CONTACT_KIND_HUISBEZOEK: 'huisbezoek', CONTACT_KIND_TELEFOON: 'telefoon', CONTACT_KIND_BERICHT: 'bericht',
  CONTACT_KIND_OVERLEG: 'overleg',
  CONTACT_OUTCOME_GESPREK: 'gesprek', CONTACT_OUTCOME_NIET_THUIS: 'niet thuis',
  CONTACT_OUTCOME_DEUR_NIET_GEOPEND: 'deur niet geopend', CONTACT_OUTCOME_WEIGERT_CONTACT: 'weigert contact',
  CONTACT_OUTCOME_DOORVERWEZEN: 'doorverwezen',
  NORM_STATE_OPEN: 'open', NORM_STATE_MET: 'gehaald', NORM_STATE_MISSED: 'te laat',
  PRIORITY_ACUUT: 'acuut', PRIORITY_HOOG: 'hoog', PRIORITY_NORMAAL: 'normaal', PRIORITY_LAAG: 'laag',
};
for (const [n, name] of Object.entries(CASE_STATE_ENUM)) ENUM_LABELS[name] = CASE_STATES[n];

export function label(enumName) {
  return ENUM_LABELS[enumName] || (enumName ? String(enumName).toLowerCase() : '');
}
export const TRIAGE_STATES = { 1: 'nieuw', 2: 'gekoppeld', 3: 'duplicaat', 4: 'afgewezen' };

let reference = null;

export async function loadReference(force = false) {
  if (!reference || force) reference = await api('GET', '/v1/console/reference');
  return reference;
}

export function categoryLabel(code) {
  const c = ((reference && reference.categories) || []).find((x) => x.code === code);
  return c ? c.label : code;
}

export function workerName(id) {
  if (!id) return '';
  const w = ((reference && reference.workers) || []).find((x) => x.id === id);
  return w ? w.name : id;
}

export function wijkName(code) {
  const w = ((reference && reference.wijken) || []).find((x) => x.code === code);
  return w ? w.name + ' (' + code + ')' : code;
}

export function resolutionLabel(code) {
  const r = ((reference && reference.resolution_codes) || []).find((x) => x.code === code);
  return r ? r.label : code;
}

export function shortId(id) {
  return id ? String(id).slice(-8) : '';
}

export function addressText(a) {
  if (!a) return '';
  return [a.street, [a.house_number, a.addition].filter(Boolean).join(''), a.postcode, a.city]
    .filter(Boolean).join(' ');
}

// The value of a versioned field ({value, version}) of a record as JSON.
export function val(f) {
  return f && f.value !== undefined ? f.value : '';
}
export function num(f) {
  return Number(val(f) || 0);
}
export function categoriesOf(kase) {
  return (kase.categories || []).filter((e) => e.present).map((e) => e.value);
}

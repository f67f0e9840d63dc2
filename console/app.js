// The console's shell: who is logged in, the menu for their role, and which page the address
// (#werkvoorraad, #casus/ID, ...) asks for. Each page is a module in pages/.
import { api, setCsrf, ApiError } from './api.js';
import { el, show, announce } from './dom.js';
import { loginPage, setupPage } from './pages/login.js';
import { werkvoorraadPage } from './pages/werkvoorraad.js';
import { overzichtPage } from './pages/overzicht.js';
import { casusPage } from './pages/casus.js';
import { conflictenPage } from './pages/conflicten.js';
import { rapportagePage } from './pages/rapportage.js';
import { beheerPage } from './pages/beheer.js';

const ROLE_COORDINATOR = 'SOURCE_ROLE_COORDINATOR';
const ROLE_ADMIN = 'SOURCE_ROLE_ADMIN';

// Pages by role: [hash, menu label (none: not in the menu), render(arguments from the hash)].
const PAGES = {
  [ROLE_COORDINATOR]: [
    ['werkvoorraad', 'Werkvoorraad', werkvoorraadPage],
    ['overzicht', 'Overzicht', overzichtPage],
    ['conflicten', 'Conflicten', conflictenPage],
    ['rapportage', 'Rapportage', rapportagePage],
    ['casus', '', casusPage],
  ],
  [ROLE_ADMIN]: [['beheer', 'Beheer', beheerPage]],
};

let session = null;


function renderNav() {
  const nav = document.getElementById('nav');
  const pages = session ? PAGES[session.worker.role] || [] : [];
  const here = location.hash.slice(1).split('?')[0].split('/')[0];
  nav.replaceChildren(...pages.filter(([, label]) => label).map(([hash, label]) =>
    el('a', { href: '#' + hash, 'aria-current': hash === here ? 'page' : undefined }, label)));
  nav.hidden = pages.length === 0;
  document.getElementById('who').textContent = session ? session.worker.name : '';
  document.getElementById('logout').hidden = !session;
}

async function route() {
  const [hash, ...rest] = location.hash.slice(1).split('?')[0].split('/');
  if (!session) {
    renderNav();
    return hash === 'instellen' ? setupPage(start) : loginPage(start);
  }
  const pages = PAGES[session.worker.role] || [];
  const page = pages.find(([h]) => h === hash) || pages[0];
  renderNav();
  if (!page) {
    show(el('h1', {}, 'Geen pagina voor deze rol'));
    return undefined;
  }
  try {
    await page[2](rest.map(decodeURIComponent));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return start();
    show(el('h1', {}, page[1]), el('p', { class: 'error', role: 'alert' }, e.message));
  }
  document.getElementById('main').focus();
  return undefined;
}

export async function start() {
  try {
    session = await api('GET', '/v1/console/session');
    if (!session.worker) session.worker = {};
    setCsrf(session.csrf_token);
  } catch (e) {
    if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 403)) announce(e.message);
    session = null;
    setCsrf('');
  }
  return route();
}

document.getElementById('logout').addEventListener('click', async () => {
  try {
    await api('POST', '/v1/console/logout', {});
  } finally {
    session = null;
    setCsrf('');
    location.hash = '';
    start();
  }
});
window.addEventListener('hashchange', route);
start();

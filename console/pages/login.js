// Inloggen (worker, wachtwoord, code uit de authenticator-app) and the first set-up with the
// one-time code from the administrator.
import { api } from '../api.js';
import { el, show, field } from '../dom.js';

// What a refused login means, in the worker's words (the server never says which factor).
const LOGIN_REFUSALS = {
  401: 'Onjuiste inloggegevens.',
  403: 'Dit account is geblokkeerd na te veel mislukte pogingen. Vraag de beheerder het te ontgrendelen.',
  429: 'Te veel mislukte pogingen vanaf dit adres. Probeer het over een kwartier opnieuw.',
  503: 'De server is even druk. Probeer het zo opnieuw.',
};

export function loginPage(done) {
  const worker = el('input', { name: 'worker', autocomplete: 'username', required: true });
  const password = el('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const totp = el('input', { name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', required: true });
  const error = el('p', { class: 'error', role: 'alert' });
  const form = el('form', { class: 'stack', id: 'login' },
    field('Medewerker', worker), field('Wachtwoord', password), field('Code uit de app (6 cijfers)', totp),
    error, el('button', { type: 'submit' }, 'Inloggen'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      await api('POST', '/v1/console/login', { workerId: worker.value.trim(), password: password.value, totp: totp.value.trim() });
      password.value = '';
      done();
    } catch (e) {
      error.textContent = LOGIN_REFUSALS[e.status] || e.message;
    }
  });
  show(el('h1', {}, 'Inloggen'), form,
    el('p', {}, 'Eerste keer? ', el('a', { href: '#instellen' }, 'Stel uw toegang in met de code van de beheerder.')));
  worker.focus();
}

export function setupPage(done) {
  const code = el('input', { name: 'code', autocomplete: 'off', required: true });
  const password = el('input', { name: 'password', type: 'password', autocomplete: 'new-password', minlength: 12, required: true });
  const error = el('p', { class: 'error', role: 'alert' });
  const form = el('form', { class: 'stack', id: 'setup' },
    field('Eenmalige code van de beheerder', code), field('Nieuw wachtwoord (minstens 12 tekens)', password),
    error, el('button', { type: 'submit' }, 'Instellen'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      const r = await api('POST', '/v1/console/setup', { code: code.value.trim(), password: password.value });
      password.value = '';
      show(el('h1', {}, 'Tweede factor'),
        el('p', {}, 'Voeg deze sleutel toe aan uw authenticator-app (tijdgebonden, 6 cijfers):'),
        el('p', {}, el('code', { class: 'secret', id: 'totp-secret' }, r.totp_secret)),
        el('p', { class: 'hint' }, 'Of open deze link op de telefoon: ', el('span', { class: 'text' }, r.otpauth_uri)),
        el('p', {}, 'Uw medewerkersnummer: ', el('strong', { id: 'setup-worker' }, r.worker_id)),
        el('p', {}, el('a', { href: '#' }, 'Verder naar inloggen')));
    } catch (e) {
      error.textContent = e.message;
    }
  });
  show(el('h1', {}, 'Toegang instellen'), form, el('p', {}, el('a', { href: '#' }, 'Terug naar inloggen')));
  code.focus();
  return done;
}

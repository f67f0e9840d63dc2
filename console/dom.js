// Building the page without innerHTML: free text is always set as text, never parsed.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else if (value === true) {
      node.setAttribute(key, '');
    } else {
      node.setAttribute(key, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function show(...nodes) {
  const main = document.getElementById('main');
  main.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined && n !== false));
}

export function announce(message) {
  document.getElementById('status').textContent = message;
}

const DAYS = ['zo', 'ma', 'di', 'wo', 'do', 'vr', 'za'];
const MONTHS = ['jan', 'feb', 'mrt', 'apr', 'mei', 'jun', 'jul', 'aug', 'sep', 'okt', 'nov', 'dec'];

// "do 3 dec, 14:00" in Amsterdam time, as people read a date.
export function when(ms) {
  if (!ms) return '';
  const parts = new Intl.DateTimeFormat('nl-NL', {
    timeZone: 'Europe/Amsterdam', weekday: 'short', day: 'numeric', month: 'numeric',
    year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(new Date(Number(ms)));
  const get = (type) => (parts.find((p) => p.type === type) || {}).value || '';
  const date = new Date(Number(get('year')), Number(get('month')) - 1, Number(get('day')));
  return DAYS[date.getDay()] + ' ' + Number(get('day')) + ' ' + MONTHS[date.getMonth()] + ', ' +
      get('hour') + ':' + get('minute');
}

export function field(label, input) {
  return el('label', {}, label, input);
}

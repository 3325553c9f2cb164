// Switchboard browser-phone interop: drives phone.html pages in headless Debian Chromium
// through playwright-core (no downloaded browser: executablePath /usr/bin/chromium).
//
// usage: node drive.mjs SECONDS NAME=QUERY [NAME=QUERY ...]
//   Opens one page per NAME (each in its own browser context, i.e. its own profile and
//   WebSocket), phone.html?QUERY, all at once. When every page has registered it prints
//   "ALL-REGISTERED" (run.sh waits for it before a sipp caller dials a browser) and sets
//   window.GO in every page: a calling page dials only then, so its callee is reachable.
// Output: "[NAME] <event> <json>" for each page event, "[NAME] ws> <first line>" and
// "[NAME] ws< <first line>" for each SIP message the page sent or received on its WebSocket
// (a response with its CSeq method in brackets, and the names of any digest headers),
// then "RESULT NAME <json>" per page.
// Exit 0 when every page reported DONE.ok and every request (but ACK) sent or received on
// its WebSocket got a final response, 1 otherwise, 2 on the overall limit of SECONDS.
// The browser is closed on every path, so no Chromium process outlives this script.
import { chromium } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const [secsArg, ...specs] = process.argv.slice(2);
const secs = Number(secsArg);
if (!(secs > 0) || specs.length === 0 || specs.some(s => !s.includes('='))) {
  console.error('usage: node drive.mjs SECONDS NAME=QUERY [NAME=QUERY ...]');
  process.exit(64);
}
const peers = specs.map(s => ({ name: s.slice(0, s.indexOf('=')), query: s.slice(s.indexOf('=') + 1) }));
const deadline = Date.now() + secs * 1000;
const t0 = Date.now();
const left = () => Math.max(1, deadline - Date.now());

let browser = null;
async function shutdown(code) {
  if (browser) {
    const b = browser; browser = null;
    await Promise.race([b.close().catch(() => {}), new Promise(r => setTimeout(r, 5000))]);
  }
  process.exit(code);
}
const overall = setTimeout(() => { console.log(`OVERALL TIMEOUT after ${secs} s`); shutdown(2); }, secs * 1000);
process.on('SIGTERM', () => { console.log('SIGTERM'); shutdown(3); });
process.on('SIGINT', () => shutdown(3));

browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  timeout: 15000,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    // the machine has no outside network: no background fetches, no component updates
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // a fake microphone (a beep) and no permission prompt
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    // ICE may use 127.0.0.1, with real addresses instead of mDNS .local names
    '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns',
    '--autoplay-policy=no-user-gesture-required',
    // WEB_INSECURE=1 (run.sh sets it for a wss:// URL): accept a self-signed server certificate
    ...(process.env.WEB_INSECURE === '1' ? ['--ignore-certificate-errors'] : []),
  ],
});

const pages = [];
async function open(peer) {
  const ctx = await browser.newContext({ permissions: ['microphone'] });
  const page = await ctx.newPage();
  page.on('console', m => {
    const t = m.text();
    if (t.startsWith('EV ')) console.log(`[${peer.name}] ${t.slice(3)}`);
    else if (m.type() === 'error') console.log(`[${peer.name}] console.error ${t}`);
  });
  page.on('pageerror', e => console.log(`[${peer.name}] pageerror ${e}`));
  // The SIP messages on the page's WebSocket, one line each: the first line, plus the
  // names of the credentials headers the message carries (to show the digest exchange).
  // Every request (but ACK) must get a final response on the same WebSocket: `open` holds
  // the transactions still waiting for one, keyed by direction, Call-ID and CSeq.
  peer.open = new Map();
  page.on('websocket', ws => {
    const show = (dir, data) => {
      const text = typeof data === 'string' ? data : String(data);
      const first = text.split('\r\n', 1)[0].slice(0, 120);
      if (!first.trim()) return;                            // a CRLF keep-alive
      const creds = (text.match(/^(Authorization|Proxy-Authorization|WWW-Authenticate|Proxy-Authenticate):/gmi) || [])
        .map(h => h.slice(0, -1));
      const hdr = name => ((text.match(new RegExp(`^(?:${name}):[ \\t]*(.*)$`, 'mi')) || [])[1] || '').trim();
      const cseq = hdr('CSeq'), callId = hdr('Call-ID|i');
      const status = /^SIP\/2\.0 (\d{3})/.exec(first);
      if (status) {
        // a response: it answers a request sent the other way
        const key = `${dir === '<' ? '>' : '<'} ${callId} ${cseq}`;
        if (Number(status[1]) >= 200) peer.open.delete(key);
      } else if (!/^ACK /.test(first)) {
        peer.open.set(`${dir} ${callId} ${cseq}`, first.split(' ')[0]);
      }
      const tag = status ? ` (${cseq.split(/\s+/)[1] || '?'})` : '';
      console.log(`[${peer.name}] ws${dir} ${first}${tag}${creds.length ? ' [' + creds.join(' ') + ']' : ''} +${Date.now() - t0} ms`);
    };
    ws.on('framesent', f => show('>', f.payload));
    ws.on('framereceived', f => show('<', f.payload));
  });
  await page.goto(`file://${here}/phone.html?${peer.query}`);
  return page;
}
// Waits until the page has registered (true) or is done without registering (false).
const registered = async p => (await p.waitForFunction(
  () => (window.EV.some(e => e.t === 'registered') ? 'yes' : window.DONE ? 'no' : null),
  null, { timeout: left() })).jsonValue().then(v => v === 'yes');

try {
  pages.push(...await Promise.all(peers.map(open)));
  const reg = await Promise.all(pages.map(registered));
  peers.forEach((p, i) => { if (!reg[i]) console.log(`driver: ${p.name} did not register`); });
  if (reg.every(Boolean)) {
    console.log('ALL-REGISTERED');
    await Promise.all(pages.map(p => p.evaluate(() => { window.GO = true; })));
  }
} catch (e) {
  console.log(`driver error: ${String(e).split('\n')[0]}`);
}

let allOk = pages.length === peers.length;
const results = [];
for (let i = 0; i < peers.length; i++) {
  let r;
  try {
    if (!pages[i]) throw new Error('not opened');
    r = await (await pages[i].waitForFunction(() => window.DONE, null, { timeout: left() })).jsonValue();
  } catch (e) {
    r = { ok: false, error: String(e).split('\n')[0] };
  }
  results.push(r);
}
// A page can be done (say, its BYE sent) before the last final responses have crossed:
// give them up to 3 s, then any request left unanswered fails its page.
const settle = Date.now() + Math.min(3000, left());
while (peers.some(p => p.open && p.open.size > 0) && Date.now() < settle) {
  await new Promise(r => setTimeout(r, 50));
}
for (let i = 0; i < peers.length; i++) {
  const r = results[i];
  const open = peers[i].open ? [...peers[i].open.entries()] : [];
  if (open.length > 0) {
    r.ok = false;
    r.unanswered = open.map(([k, m]) => `${k.startsWith('>') ? 'sent' : 'received'} ${m} (${k.slice(2)})`);
  }
  console.log(`RESULT ${peers[i].name} ${JSON.stringify(r)}`);
  allOk = allOk && r.ok === true;
}
clearTimeout(overall);
await shutdown(allOk ? 0 : 1);

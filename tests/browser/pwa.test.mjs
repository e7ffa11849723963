// The PWA in Debian's headless Chromium, driven by playwright-core, against a real switchboard
// and switchboard-wa-sim started by tests/tests/pwa.rs. Usage:
//
//   node pwa.test.mjs <base url> <email> <password> <simulator url> <en|ru> <artifacts dir> \
//     <supervisor email> <supervisor password> <admin email> <admin password>
//
// It checks, as an agent on a phone-sized screen: the page boots to a login form in the
// browser's language; the manifest and service worker make it installable; after signing in, a
// message a simulated customer writes appears live; the reply goes out and its ticks turn to
// read; offline, a reply waits in the queue and goes when the network is back. Screenshots of
// the inbox and the conversation are saved. Then a supervisor, on a desktop-sized screen, sees
// the agent online on the live board and reads the transcript live. Exit code 0 only when every
// check passed. Then history loads as the agent scrolls up, and an admin sees users, roles and
// the audit log. In between: an offline reload keeps the signed-in app; a reaction, a quoted
// reply, a photo with progress and caption, and a template for a customer outside the 24-hour
// window all reach the simulator and show in the conversation; the composer names a word the
// workspace blocks and holds the send. Then the admin imports a Windows-1251 contact file and
// finds the customer on the Contacts page; last, sends those customers a campaign made in the
// wizard and finds its cost on the Costs page. A local test CRM fills the conversation's CRM card,
// and a local receiver gets the webhooks of an endpoint the admin adds in the app, verifies each
// delivery's signature with the secret the app showed once, and gets one again when the admin
// replays it from the delivery log.

import { chromium } from "playwright-core";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:http";
import { createHmac } from "node:crypto";

const [base, email, password, sim, lang, artifacts, supEmail, supPassword, adminEmail, adminPassword] =
  process.argv.slice(2);
const chromiumPath = process.env.SWITCHBOARD_CHROMIUM || "/usr/bin/chromium";
const ru = lang === "ru";
const T = ru
  ? { signIn: "Вход", mine: "Мои", all: "Все", board: "Мониторинг", online: "В сети", offline: "Нет сети" }
  : { signIn: "Sign in", mine: "Mine", all: "All", board: "Board", online: "Online", offline: "You are offline" };

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok: ${message}`);
}

const customerName = ru ? "Ольга Петрова" : "Olga Petrova";

async function customerSays(from, text) {
  const r = await fetch(`${sim}/_sim/inbound`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ from, name: customerName, text }),
  });
  check(r.ok, `the simulated customer wrote (${r.status})`);
}

// The admin's REST call with a bearer token (for setting the workspace up, not for what the
// test checks in the browser).
async function adminApi(method, path, body) {
  const login = await fetch(`${base}/api/v1/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: adminEmail, password: adminPassword }),
  });
  const { token } = await login.json();
  const r = await fetch(`${base}/api/v1/${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: body && JSON.stringify(body),
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}

// A third party on this machine: a CRM that knows the customer, and a webhook receiver that
// keeps what it is sent.
const crmAsked = [];
const hooks = [];
const thirdParty = createServer((req, res) => {
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    if (req.url.startsWith("/crm")) {
      crmAsked.push(req.url);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ plan: "Gold", orders: [{ id: "A-1001", total: "129.00 EUR" }] }));
    } else {
      hooks.push({ headers: req.headers, body });
      res.statusCode = 204;
      res.end();
    }
  });
});
await new Promise((r) => thirdParty.listen(0, "127.0.0.1", r));
const thirdPartyUrl = `http://127.0.0.1:${thirdParty.address().port}`;

// Standard Webhooks: `v1,` and the Base64 HMAC-SHA256 of `id.timestamp.body` under the secret's
// bytes (after `whsec_`).
function verified(hook, secret) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const signed = `${hook.headers["webhook-id"]}.${hook.headers["webhook-timestamp"]}.${hook.body}`;
  const expected = createHmac("sha256", key).update(signed).digest("base64");
  return (hook.headers["webhook-signature"] || "").split(" ").includes(`v1,${expected}`);
}

// This browser's Push API, standing in for the push service Chromium would register with
// (FCM, unreachable here): `subscribe` makes a real P-256 key pair and auth secret with
// WebCrypto and an endpoint on the test's local push service, and keeps them for `openPush`.
function fakePushManager(endpointBase) {
  const b64u = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  let current = null;
  PushManager.prototype.getSubscription = async () => current;
  PushManager.prototype.subscribe = async (options) => {
    const pair = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    const auth = crypto.getRandomValues(new Uint8Array(16));
    window.__push = { key: b64u(new Uint8Array(options.applicationServerKey)), privateKey: pair.privateKey, raw, auth };
    const endpoint = `${endpointBase}/${crypto.randomUUID()}`;
    const subscription = {
      endpoint,
      expirationTime: null,
      toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh: b64u(raw), auth: b64u(auth) } }),
      unsubscribe: async () => {
        current = null;
        return true;
      },
    };
    Object.setPrototypeOf(subscription, PushSubscription.prototype);
    current = subscription;
    return subscription;
  };
}

// RFC 8291 in the page: a push body (aes128gcm, RFC 8188, one record) opened with the key pair
// and auth secret `fakePushManager` made. The plaintext.
async function openPush(base64) {
  const body = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const salt = body.slice(0, 16);
  const idlen = body[20];
  const senderKey = body.slice(21, 21 + idlen);
  const ciphertext = body.slice(21 + idlen);
  const { privateKey, raw, auth } = window.__push;
  const sender = await crypto.subtle.importKey("raw", senderKey, { name: "ECDH", namedCurve: "P-256" }, false, []);
  const shared = new Uint8Array(await crypto.subtle.deriveBits({ name: "ECDH", public: sender }, privateKey, 256));
  const hkdf = async (salt, ikm, info, bytes) => {
    const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
    return new Uint8Array(await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, bytes * 8));
  };
  const text = new TextEncoder();
  const info = new Uint8Array([...text.encode("WebPush: info\0"), ...raw, ...senderKey]);
  const ikm = await hkdf(auth, shared, info, 32);
  const cek = await hkdf(salt, ikm, text.encode("Content-Encoding: aes128gcm\0"), 16);
  const nonce = await hkdf(salt, ikm, text.encode("Content-Encoding: nonce\0"), 12);
  const aes = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["decrypt"]);
  const plain = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce }, aes, ciphertext));
  let end = plain.length - 1;
  while (end > 0 && plain[end] === 0) end--;
  if (plain[end] !== 2) throw new Error("not the last record's delimiter");
  return new TextDecoder().decode(plain.slice(0, end));
}

async function waitFor(what, condition) {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`check failed: ${what} (waited 10 s)`);
}

async function simSent() {
  return (await fetch(`${sim}/_sim/sent`)).json();
}

// Chromium on a fresh profile, in the test's language; `close()` also removes the profile. A
// persistent context, because an incognito one is never installable.
async function openBrowser(screen) {
  const profile = mkdtempSync(join(tmpdir(), "switchboard-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
    locale: ru ? "ru-RU" : "en-US",
    ...screen,
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

mkdirSync(artifacts, { recursive: true });
const phone = await openBrowser({
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
});
const context = phone.context;
let failed = false;
let page;
try {
  page = await context.newPage();
  const consoleErrors = [];
  // Failed requests (the wrong password's 401, the socket while offline) are expected; a panic
  // or an uncaught exception is not.
  page.on("console", (m) => m.type() === "error" && /panicked|RuntimeError/.test(m.text()) && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));

  // 0. The workspace blocks some words in what agents send (the composer loads the lists when the
  //    agent signs in).
  const list = await adminApi("POST", "compliance/term-lists", {
    name: ru ? "Спам" : "Spam",
    action: "block",
    terms: ["free", "бесплатн*"],
  });
  check(list.status === 201, `the admin made a term list (${list.status})`);
  // ... and shows its CRM's data beside each conversation.
  const crm = await adminApi("PUT", "settings/crm", {
    url: `${thirdPartyUrl}/crm?phone={{contact.phone}}`,
    fields: [
      { label: ru ? "Тариф" : "Plan", path: "$.plan" },
      { label: ru ? "Последний заказ" : "Last order", path: "$.orders[0].total" },
    ],
  });
  check(crm.status === 200, `the admin connected the workspace's CRM (${crm.status})`);
  // ... and a saved reply for everyone, with the customer's name in it.
  const saved = await adminApi("POST", "saved-replies", {
    shortcut: "thanks",
    text: "Thank you, {{contact.name}}!",
    scope: "workspace",
  });
  check(saved.status === 201, `the admin saved a reply for everyone (${saved.status})`);

  // 1. Boot to the login form, in the browser's language.
  const started = Date.now();
  await page.goto(base);
  await page.waitForSelector("form input[name=email]");
  const bootMs = Date.now() - started;
  console.log(`first render (login form) after ${bootMs} ms`);
  check((await page.textContent("h1")) === T.signIn, `the login form is in ${lang}`);
  check((await page.getAttribute("html", "lang")) === lang, `<html lang> is ${lang}`);

  // 2. Installable: a valid manifest, a service worker that controls the page.
  const manifest = await (await fetch(`${base}/manifest.webmanifest`)).json();
  check(manifest.display === "standalone" && manifest.start_url === "/", "manifest: standalone, start_url /");
  const sizes = manifest.icons.map((i) => i.sizes);
  check(sizes.includes("192x192") && sizes.includes("512x512"), "manifest: 192 and 512 icons");
  await page.evaluate(() => navigator.serviceWorker.ready);
  const cdp = await context.newCDPSession(page);
  const { errors: manifestErrors } = await cdp.send("Page.getAppManifest");
  check(manifestErrors.length === 0, `Chromium parsed the manifest (${JSON.stringify(manifestErrors)})`);
  const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
  check(
    installabilityErrors.length === 0,
    `Chromium reports the app installable (${JSON.stringify(installabilityErrors)})`,
  );

  // 3. A wrong password is refused with the server's words, and nothing else happens.
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", "not the password");
  await page.click("button[type=submit]");
  await page.waitForSelector(".login .error");
  check(true, "a wrong password shows an error");

  // 4. Sign in.
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForSelector("header.top");
  await page.waitForSelector(`.tab:has-text("${T.mine}")`);
  check(true, "signed in: the inbox with its tabs");

  // 5. A customer writes; the conversation appears live (routed to this agent, who is online).
  const question = ru ? `Где мой заказ №${Date.now() % 100000}?` : `Where is my order #${Date.now() % 100000}?`;
  await customerSays("79161234567", question);
  const row = page.locator(".row", { hasText: question });
  await row.waitFor({ timeout: 15000 });
  check(true, "the new conversation appeared live in the list");
  check((await row.locator(".badge").count()) === 1, "it shows an unread count");
  await page.screenshot({ path: join(artifacts, `pwa-${lang}-inbox.png`) });

  // 6. Open it, reply, and watch the ticks turn to read.
  await row.click();
  await page.waitForSelector(`.bubble.in:has-text("${question}")`);
  // `/tha` offers the saved reply; choosing it fills the customer's name in.
  await page.fill(".composer textarea", "/tha");
  await page.click('.canned li:has-text("/thanks")');
  check(await page.inputValue(".composer textarea") === `Thank you, ${customerName}!`,
    "a saved reply chosen with /shortcut goes into the draft with the customer's name");
  const reply = ru ? "Заказ уже в пути, будет завтра." : "Your order is on its way and arrives tomorrow.";
  await page.fill(".composer textarea", reply);
  await page.keyboard.press("Enter");
  const out = page.locator(".bubble.out", { hasText: reply });
  await out.waitFor();
  await page.waitForSelector(`.bubble.out[data-status="read"]:has-text("${reply}")`, { timeout: 20000 });
  check(true, "the reply was sent and its ticks turned to read");
  check((await simSent()).some((m) => JSON.stringify(m).includes(reply)), "WhatsApp (the simulator) received the reply");
  await page.screenshot({ path: join(artifacts, `pwa-${lang}-conversation.png`) });
  // The customer's CRM card in the side panel: the test CRM's fields for this customer.
  await page.click(".details-toggle");
  await page.waitForSelector('.crm-card dd:has-text("Gold")');
  check(await page.locator('.crm-card dd:has-text("129.00 EUR")').count() === 1,
    "the side panel shows the CRM card with the CRM's fields");
  check(crmAsked.some((u) => u.includes("phone=79161234567")), "the CRM was asked for this customer");
  await page.screenshot({ path: join(artifacts, `pwa-${lang}-crm-card.png`) });
  // A note mentioning a colleague picked by name after `@`: shown by name, stored by id.
  await page.fill(".note-form textarea", "please check @");
  const offered = page.locator(".note-form .mentions li");
  await offered.first().waitFor();
  const colleague = (await offered.first().textContent()).trim();
  await offered.first().click();
  await page.click(".note-form button[type=submit]");
  await page.waitForSelector(`.notes li p:has-text("please check ${colleague}")`);
  const held = (await adminApi("GET", "conversations?limit=50")).body.items
    .find((c) => c.customer === "79161234567");
  const stored = await adminApi("GET", `conversations/${held.id}/notes`);
  check(stored.body?.items?.[0]?.mentions?.length === 1 && stored.body.items[0].text.includes("@{u_"),
    `a colleague picked after @ is mentioned by id (${colleague})`);
  await page.click(".details-toggle");

  // 7. Offline: the banner shows, a reply waits, and goes when the network returns.
  await context.setOffline(true);
  await page.waitForSelector(".banner.offline");
  check((await page.textContent(".banner.offline")).startsWith(T.offline), "the offline banner shows");
  const later = ru ? "Напишу, как только курьер выедет." : "I will write as soon as the courier leaves.";
  await page.fill(".composer textarea", later);
  await page.click("button.send");
  await page.waitForSelector(`.bubble.out[data-status="local"]:has-text("${later}")`);
  check(true, "offline, the reply is kept in the queue");
  await page.screenshot({ path: join(artifacts, `pwa-${lang}-offline.png`) });
  await context.setOffline(false);
  await page.waitForSelector(".banner.offline", { state: "detached", timeout: 20000 });
  await page.waitForSelector(`.bubble.out[data-status="read"]:has-text("${later}")`, { timeout: 30000 });
  const sentLater = (await simSent()).filter((m) => JSON.stringify(m).includes(later));
  check(sentLater.length === 1, `back online, the queued reply was sent exactly once (${sentLater.length})`);

  // 8. Reload: the session, the conversation history and the ticks come back from the server.
  await page.reload();
  await page.locator(".row", { hasText: customerName }).click({ timeout: 15000 });
  await page.waitForSelector(`.bubble.in:has-text("${question}")`);
  await page.waitForSelector(`.bubble.out[data-status="read"]:has-text("${reply}")`);
  check(true, "after a reload the transcript and its ticks are back");

  // 8b. Offline, a reload keeps the signed-in app (not the sign-in form); back online, the inbox
  //     loads again.
  await context.setOffline(true);
  await page.reload();
  await page.waitForSelector("header.top", { timeout: 15000 });
  // "Offline" or "Reconnecting…": after a reload Chromium's emulation may report navigator.onLine.
  await page.waitForSelector(".banner");
  check((await page.locator("form input[name=password]").count()) === 0, "offline, a reload keeps the signed-in app");
  await page.screenshot({ path: join(artifacts, `pwa-${lang}-offline-reload.png`) });
  await context.setOffline(false);
  await page.waitForSelector(".banner", { state: "detached", timeout: 30000 });
  await page.locator(".row", { hasText: customerName }).click({ timeout: 15000 });
  await page.waitForSelector(`.bubble.in:has-text("${question}")`);
  check(true, "back online, the inbox and the conversation load");

  // 8c. React to the customer's message, then answer it with a quote.
  const theirs = page.locator(".bubble.in", { hasText: question });
  await theirs.click();
  await page.locator(".bubble .actions .react", { hasText: "👍" }).click();
  await page.waitForSelector(`.bubble.in:has-text("${question}") .reactions:has-text("👍")`, { timeout: 15000 });
  check(
    (await simSent()).some((m) => m.type === "reaction" && m.body.reaction.emoji === "👍"),
    "a reaction shows on the message and reached WhatsApp",
  );
  await theirs.click();
  await page.click(".bubble .actions .reply-to");
  await page.waitForSelector(".composer .replying");
  await page.waitForSelector(".bubble .actions", { state: "detached" });
  const answer = ru ? "Отвечаю на ваш вопрос о заказе." : "Answering your question about the order.";
  await page.fill(".composer textarea", answer);
  await page.keyboard.press("Enter");
  await page.waitForSelector(`.bubble.out[data-status="read"]:has-text("${answer}") .quote:has-text("${question}")`, { timeout: 20000 });
  const quoting = (await simSent()).find((m) => JSON.stringify(m).includes(answer));
  check(quoting && quoting.body.context && quoting.body.context.message_id, "the reply quotes the question on WhatsApp too");

  // 8c'. The word filter checks the draft as the agent types (the server's own check, a quarter
  //      second after the last key): the blocked word is named and the send waits. The round
  //      trip of a 4,096-character draft is timed.
  const risky = ru ? "Только сегодня: БЕСПЛАТНАЯ доставка" : "Today only: FR33 delivery";
  await page.fill(".composer textarea", risky);
  await page.waitForSelector('.filter-hits[data-verdict="block"]');
  check(
    (await page.textContent(".filter-hits .filter-terms")).includes(ru ? "БЕСПЛАТНАЯ" : "FR33"),
    "the composer names the blocked word as typed",
  );
  check(await page.isDisabled("button.send"), "the send button waits while a blocked word remains");
  await page.screenshot({ path: join(artifacts, `pwa-${lang}-word-filter.png`) });
  let slowest = 0;
  for (let i = 0; i < 5; i++) {
    let long = "";
    while (long.length < 4096 - 40) long += `${risky} ${i} `;
    long = long.slice(0, 4096);
    await page.fill(".composer textarea", "");
    await page.waitForSelector(".filter-hits", { state: "detached" });
    await page.fill(".composer textarea", long);
    await page.waitForSelector(".filter-hits");
    slowest = Math.max(slowest, parseFloat(await page.getAttribute(".filter-hits", "data-scan-ms")));
  }
  console.log(`measure: the composer's check of 4,096 characters (round trip), slowest of 5: ${slowest.toFixed(2)} ms`);
  check(slowest > 0, "the composer's check of a full-length draft was timed");
  await page.fill(".composer textarea", "");
  await page.waitForSelector(".filter-hits", { state: "detached" });

  // 8d. Attach a photo: it uploads with progress, goes with its caption, and shows from the server.
  const photo = Buffer.from(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    "base64",
  );
  await page.setInputFiles(".composer .hidden-file", { name: "route.png", mimeType: "image/png", buffer: photo });
  await page.waitForSelector('.attachment[data-ready="true"]', { timeout: 15000 });
  const caption = ru ? "Маршрут курьера" : "The courier's route";
  await page.fill(".composer textarea", caption);
  await page.click("button.send");
  await page.waitForFunction(
    () => [...document.querySelectorAll(".bubble.out img.media")].some((i) => i.complete && i.naturalWidth === 1),
    null,
    { timeout: 20000 },
  );
  check((await simSent()).some((m) => m.type === "image" && m.body.image.caption === caption), "the photo and its caption reached WhatsApp");
  check(true, "the photo shows in the conversation, fetched back through the server");
  await page.screenshot({ path: join(artifacts, `pwa-${lang}-rich.png`) });

  // 8e. A customer who last wrote two days ago: only a template can reach them, and the app
  //     offers the number's templates with their values.
  const lateName = ru ? "Пётр Иванов" : "Peter Ivanov";
  const lateQuestion = ru ? "Вы ещё работаете?" : "Are you still open?";
  const late = await fetch(`${sim}/_sim/inbound`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ from: "79990001122", name: lateName, text: lateQuestion, age_secs: 2 * 86400 }),
  });
  check(late.ok, "a customer's two-day-old message arrives");
  await page.click(".back");
  await page.locator(".row", { hasText: lateName }).click({ timeout: 15000 });
  await page.click("button.send-template");
  const templateName = "order_update";
  await page.locator(".template", { hasText: templateName }).filter({ hasText: ru ? "ru" : "en_US" }).click();
  const values = page.locator(".template-value");
  check((await values.count()) === 2, "the template asks for its two values");
  await values.nth(0).fill(ru ? "Пётр" : "Peter");
  await values.nth(1).fill("A-1042");
  await page.locator(".template-form button.primary").click();
  const rendered = ru ? "Здравствуйте, Пётр! Ваш заказ A-1042 уже в пути." : "Hi Peter, your order A-1042 is on its way.";
  await page.waitForSelector(`.bubble.out[data-status="read"]:has-text("${rendered}")`, { timeout: 20000 });
  check(
    (await simSent()).some((m) => m.type === "template" && m.body.template.name === templateName),
    "outside the window a template went out, and the transcript shows its text",
  );
  await page.screenshot({ path: join(artifacts, `pwa-${lang}-template.png`) });
  // ... and one with a header, values by name and a tracking link's end, each asked for by name.
  await page.click("button.send-template");
  await page.locator(".template", { hasText: "delivery_tracking" }).click();
  const named = page.locator(".template-value");
  check((await named.count()) === 2, "the named template asks for its two values");
  check((await named.nth(0).getAttribute("placeholder")).includes("customer_name"), "each value is asked for by its name");
  await page.fill(".template-header-value", "A-1042");
  await named.nth(0).fill(ru ? "Пётр" : "Peter");
  await named.nth(1).fill(ru ? "завтра" : "tomorrow");
  check(await page.isDisabled(".template-form button.primary"), "the send waits for the tracking link's value");
  await page.fill(".template-button-value", "A-1042");
  await page.locator(".template-form button.primary").click();
  // `:has-text` ignores case, and the template before says "your order A-1042": the bubble is
  // told apart by a case-sensitive pattern, and the send by what WhatsApp received.
  await page
    .locator('.bubble.out[data-status="read"]', { hasText: /Order A-1042/ })
    .waitFor({ timeout: 20000 });
  let tracked;
  await waitFor("WhatsApp received the tracking template", async () => {
    tracked = (await simSent()).find((m) => m.type === "template" && m.body.template.name === "delivery_tracking");
    return tracked !== undefined;
  });
  check(
    tracked &&
      tracked.body.template.components.some((c) => c.type === "header" && c.parameters[0].parameter_name === "order_id") &&
      tracked.body.template.components.some((c) => c.type === "button" && c.parameters[0].text === "A-1042"),
    "the header, the named values and the button's value reached WhatsApp",
  );

  // 8f. Notifications on this phone. The agent turns them on; the browser subscribes with the
  //     server's VAPID key (the push services cannot be reached here, so this browser's
  //     PushManager hands out a subscription at a local RFC 8030 endpoint, with keys WebCrypto
  //     makes); a test notification goes out, encrypted for this browser and opened here with
  //     its private key (RFC 8291, in WebCrypto, independently of the server's crate); the
  //     service worker shows it while the app is not in view; turned off, the device is gone.
  const pushes = [];
  const pushService = createServer((req, res) => {
    const chunks = [];
    req.on("data", (d) => chunks.push(d));
    req.on("end", () => {
      pushes.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.statusCode = 201;
      res.end();
    });
  });
  await new Promise((r) => pushService.listen(0, "127.0.0.1", r));
  const pushEndpoint = `http://127.0.0.1:${pushService.address().port}/push`;
  await context.grantPermissions(["notifications"], { origin: base });
  await context.addInitScript(fakePushManager, pushEndpoint);
  await page.evaluate(fakePushManager, pushEndpoint);
  await page.click(`.nav:has-text("${ru ? "Настройки" : "Settings"}")`);
  await page.waitForSelector('.push-state[data-state="off"]');
  await page.click("button.push-on");
  await page.waitForSelector('.push-state[data-state="on"]', { timeout: 15000 });
  await page.waitForSelector(".push-devices li .tag");
  const vapid = await page.evaluate(async () => (await (await fetch("/api/v1/push/key")).json()).public_key);
  check(
    (await page.evaluate(() => window.__push && window.__push.key)) === vapid,
    "the browser subscribed with the server's VAPID key",
  );
  await page.screenshot({ path: join(artifacts, `pwa-${lang}-notifications.png`) });
  await page.click("button.push-test");
  await page.waitForSelector(".push-said");
  check(
    (await page.textContent(".push-said")).includes(ru ? "Отправлено" : "Sent"),
    "the test notification reached the push service",
  );
  check(pushes.length === 1 && pushes[0].headers["content-encoding"] === "aes128gcm", "one aes128gcm push arrived");
  check((pushes[0].headers.authorization || "").startsWith("vapid t="), "the push carries a VAPID token");
  const opened = await page.evaluate(openPush, pushes[0].body.toString("base64"));
  const notice = JSON.parse(opened);
  check(notice.reason === "test" && notice.url === "/", `the push opens with this browser's key (${opened})`);
  // The service worker shows it when no window of the app is in view.
  const sw = await context.newCDPSession(page);
  const registrationId = await new Promise((resolve) => {
    sw.on("ServiceWorker.workerRegistrationUpdated", ({ registrations }) => {
      const mine = registrations.find((r) => r.scopeURL.startsWith(base) && !r.isDeleted);
      if (mine) resolve(mine.registrationId);
    });
    sw.send("ServiceWorker.enable");
  });
  await page.goto("about:blank");
  await sw.send("ServiceWorker.deliverPushMessage", { origin: new URL(base).origin, registrationId, data: opened });
  await page.goto(base);
  await page.waitForSelector("header.top");
  const shown = await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    for (let i = 0; i < 100; i++) {
      const list = await registration.getNotifications();
      if (list.length) return list.map((n) => ({ title: n.title, body: n.body, tag: n.tag }));
      await new Promise((r) => setTimeout(r, 50));
    }
    return [];
  });
  check(
    shown.length === 1 && shown[0].tag === "test" && shown[0].title === "Switchboard",
    `the service worker showed the notification (${JSON.stringify(shown)})`,
  );
  await page.click(`.nav:has-text("${ru ? "Настройки" : "Settings"}")`);
  await page.waitForSelector('.push-state[data-state="on"]');
  await page.click("button.push-off");
  await page.waitForSelector('.push-state[data-state="off"]');
  await page.waitForSelector(".push-devices", { state: "detached" });
  const left = await page.evaluate(async () => (await (await fetch("/api/v1/push/subscriptions")).json()).length);
  check(left === 0, "turned off, the server keeps no device of this browser");
  pushService.close();

  // 8g. A saved reply with a file: the agent saves one in Settings and attaches a price list;
  //     chosen in the composer, the file comes attached (sent from the server's copy) and goes
  //     to WhatsApp with the reply's text as its caption; then the file is taken off again.
  await page.fill(".saved-reply-form input", "prices");
  const priceText = ru ? "Наш прайс-лист" : "Our price list";
  await page.fill(".saved-reply-form textarea", priceText);
  await page.click(".saved-reply-form button[type=submit]");
  const priceRow = page.locator('.canned-list li[data-shortcut="prices"]');
  await priceRow.waitFor();
  const pdf = Buffer.concat([Buffer.from("%PDF-1.4\n"), Buffer.alloc(2048, 7)]);
  await priceRow.locator(".hidden-file").setInputFiles({ name: "prices.pdf", mimeType: "application/pdf", buffer: pdf });
  await priceRow.locator('.reply-file:has-text("prices.pdf")').waitFor({ timeout: 15000 });
  const kept = await page.evaluate(async () => {
    const list = await (await fetch("/api/v1/saved-replies")).json();
    const r = list.find((x) => x.shortcut === "prices");
    const file = await fetch(`/api/v1/saved-replies/${r.id}/attachment`);
    return { attachment: r.attachment, bytes: (await file.arrayBuffer()).byteLength };
  });
  check(
    kept.attachment?.kind === "document" && kept.bytes === pdf.length,
    `the reply's file is kept by the server (${JSON.stringify(kept)})`,
  );
  await page.screenshot({ path: join(artifacts, `pwa-${lang}-reply-file.png`) });
  await page.click(`.nav:has-text("${ru ? "Входящие" : "Inbox"}")`);
  await page.locator(".row", { hasText: customerName }).first().click({ timeout: 15000 });
  await page.fill(".composer textarea", "/pri");
  await page.click('.canned li:has-text("/prices")');
  await page.waitForSelector('.attachment[data-ready="true"]:has-text("prices.pdf")', { timeout: 15000 });
  check(await page.inputValue(".composer textarea") === priceText, "the reply's text is the draft");
  await page.click("button.send");
  const isPriceList = (m) => m.type === "document" && m.body.document.caption === priceText;
  await waitFor("the reply's file at WhatsApp", async () => (await simSent()).some(isPriceList));
  const sentDoc = (await simSent()).find(isPriceList);
  check(
    sentDoc.body.document.filename === "prices.pdf",
    `the reply's file reached WhatsApp with its text as the caption (${JSON.stringify(sentDoc.body)})`,
  );
  await page.click(`.nav:has-text("${ru ? "Настройки" : "Settings"}")`);
  await priceRow.locator("button.detach-file").click();
  await priceRow.locator(".reply-file").waitFor({ state: "detached" });
  check(true, "the reply's file is taken off in Settings");
  await page.click(`.nav:has-text("${ru ? "Входящие" : "Inbox"}")`);

  // 9. A supervisor on a wall screen: the board shows the agent online with their load, and
  //    any transcript can be read live.
  const desk = await openBrowser({ viewport: { width: 1440, height: 900 } });
  try {
    const sup = await desk.context.newPage();
    sup.on("pageerror", (e) => consoleErrors.push(String(e)));
    await sup.goto(base);
    await sup.fill("input[name=email]", supEmail);
    await sup.fill("input[name=password]", supPassword);
    await sup.click("button[type=submit]");
    await sup.click(`.nav:has-text("${T.board}")`);
    await sup.waitForSelector(`table.agents td:has-text("${T.online}")`);
    check(true, "the board shows the agent online");
    const load = await sup.textContent("table.agents tbody");
    check(/[1-9]\/\d+/.test(load), `the board shows the agent's load (${load.trim()})`);
    await sup.screenshot({ path: join(artifacts, `pwa-${lang}-board.png`) });
    // Each team's view: a team without numbers or members shows an empty queue and no agents.
    const teamName = ru ? "Ночная смена" : "Night shift";
    const made = await adminApi("POST", "teams", { name: teamName });
    check(made.status === 201, `a team is made (${made.status})`);
    await sup.waitForSelector(`select.team option:has-text("${teamName}")`, { state: "attached", timeout: 15000 });
    await sup.selectOption("select.team", { label: teamName });
    await sup.waitForFunction(() => document.querySelectorAll("table.agents tbody tr").length === 0);
    const queue = await sup.textContent("[data-figure=queue]");
    check(queue.trim() === "0", `the team's view shows its own queue (${queue})`);
    check(true, "the team's view shows only its members");
    await sup.selectOption("select.team", { index: 0 });
    await sup.waitForSelector(`table.agents td:has-text("${T.online}")`);
    check(true, "all teams again: the agent is back");
    // The report page the board links to: the month's figures and charts, in the same language.
    const reportHref = await sup.getAttribute("a.reports", "href");
    check(reportHref.includes(`lang=${lang}`), `the board links the report page (${reportHref})`);
    const report = await desk.context.newPage();
    await report.goto(new URL(reportHref, base).toString());
    const heading = await report.textContent("h1");
    check(heading === (ru ? "Отчёты" : "Reports"), `the report page's heading (${heading})`);
    const charts = await report.locator("svg").count();
    check(charts === 4, `the report page draws its four charts (${charts})`);
    const answered = await report.textContent(".kpi:nth-child(3) strong");
    check(answered !== "–", `the report page shows the first response median (${answered})`);
    await report.screenshot({ path: join(artifacts, `pwa-${lang}-reports.png`), fullPage: true });
    await report.close();
    // The Reports screen in the app (a chunk fetched on first use): by agent, the agent's row
    // with the spread of first responses (median, p90, p99, σ), and its CSV with the same filters.
    await sup.click(`.nav:has-text("${ru ? "Отчёты" : "Reports"}")`);
    await sup.waitForSelector("table.spread tfoot tr.total", { timeout: 15000 });
    await sup.click('.reports .tab[data-group="agent"]');
    await sup.waitForSelector(`table.spread tbody tr:has-text("${email.split("@")[0]}")`, { timeout: 15000 });
    const median = await sup.textContent(`table.spread tbody tr:has-text("${email.split("@")[0]}") td.median`);
    check(median.trim() !== "—", `the agent's first response median shows (${median.trim()})`);
    const csvHref = await sup.getAttribute(".reports a.export", "href");
    check(csvHref.includes("group_by=agent") && csvHref.includes("format=csv"), `the CSV export keeps the filters (${csvHref})`);
    const csv = await sup.evaluate(async (href) => (await fetch(href)).text(), csvHref);
    check(csv.split("\n")[0].includes("median") && csv.includes("total"), "the CSV has the spread's columns and the total");
    await sup.screenshot({ path: join(artifacts, `pwa-${lang}-reports-screen.png`) });
    // The archive (another chunk): every conversation by state and days, its transcript as a
    // file, and a search of every message's words whose hit opens the conversation.
    await sup.click(`.nav:has-text("${ru ? "Архив" : "Archive"}")`);
    await sup.waitForSelector(".archive-state");
    await sup.selectOption(".archive-state", "all");
    const archived = `table.archive-list tr:has-text("${customerName}")`;
    await sup.waitForSelector(archived, { timeout: 15000 });
    const transcriptHref = await sup.getAttribute(`${archived} a.transcript`, "href");
    const transcriptFile = await sup.evaluate(async (href) => (await fetch(href)).text(), transcriptHref);
    check(transcriptFile.includes(question), "the archive's transcript link serves the conversation");
    const word = question.match(/\d+/)[0];
    await sup.fill(".archive-search", word);
    await sup.click(".archive form.search button");
    await sup.waitForSelector(`.hits li.hit:has-text("${word}")`, { timeout: 15000 });
    await sup.screenshot({ path: join(artifacts, `pwa-${lang}-archive.png`) });
    await sup.click(`.hits li.hit:has-text("${word}")`);
    await sup.waitForSelector(`.bubble.in:has-text("${question}")`, { timeout: 15000 });
    check(true, "a search hit opens its conversation");
    await sup.click(`.nav:has-text("${ru ? "Входящие" : "Inbox"}")`);
    await sup.click(`.tab:has-text("${T.all}")`);
    await sup.locator(".row", { hasText: customerName }).click();
    await sup.waitForSelector(`.bubble.out:has-text("${later}")`);
    const followUp = ru ? "А можно курьеру позвонить?" : "Can I call the courier?";
    await customerSays("79161234567", followUp);
    await sup.waitForSelector(`.bubble.in:has-text("${followUp}")`, { timeout: 15000 });
    check(true, "the supervisor reads the transcript live");
    await sup.screenshot({ path: join(artifacts, `pwa-${lang}-supervisor.png`) });
  } finally {
    await desk.close();
  }

  // 10. History loads as you scroll up: after 60 more messages, the conversation opens on the
  //     newest page; scrolling to the top brings the first question back.
  for (let i = 1; i <= 60; i++) {
    const r = await fetch(`${sim}/_sim/inbound`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ from: "79161234567", name: customerName, text: `history ${i}` }),
    });
    if (!r.ok) throw new Error(`the simulator refused message ${i}: ${r.status}`);
  }
  await page.reload();
  await page.locator(".row", { hasText: customerName }).click({ timeout: 15000 });
  await page.waitForSelector('.bubble .text:text-is("history 60")', { timeout: 20000 });
  const firstQuestion = page.locator(".bubble .text", { hasText: question });
  check((await firstQuestion.count()) === 0, "the conversation opens on its newest page only");
  // Each scroll to the top loads one older page: wait for its messages, not for a time. The
  // predicate scrolls to the top on every poll until they come: the app moves the view itself
  // in the next animation frame (to the bottom for a new message, back to what was being read
  // after a page went in above), which may land after a single scroll and undo it.
  for (let k = 0; k < 5 && (await firstQuestion.count()) === 0; k++) {
    const shown = await page.locator(".bubble").count();
    await page.waitForFunction((n) => {
      if (document.querySelectorAll(".bubble").length > n) return true;
      document.querySelector(".messages").scrollTop = 0;
      return false;
    }, shown, { timeout: 10000 });
  }
  check((await firstQuestion.count()) === 1, "scrolling up loaded the older messages");

  // 11. An admin: the users (with the agent), the roles, the audit log.
  const office = await openBrowser({ viewport: { width: 1280, height: 800 } });
  try {
    const admin = await office.context.newPage();
    admin.on("pageerror", (e) => consoleErrors.push(String(e)));
    await admin.goto(base);
    await admin.fill("input[name=email]", adminEmail);
    await admin.fill("input[name=password]", adminPassword);
    await admin.click("button[type=submit]");
    await admin.click(`.nav:has-text("${ru ? "Администрирование" : "Admin"}")`);
    await admin.waitForSelector(`.admin td:has-text("${email}")`);
    check(true, "the admin sees the users, the agent among them");
    await admin.click(`.admin .tab:has-text("${ru ? "Роли" : "Roles"}")`);
    await admin.waitForSelector('.admin td:has-text("supervisor")');
    check(true, "the admin sees the roles");
    // A custom role from the permission picker, which offers only what the admin holds.
    check(await admin.locator('.role-form input[name="tenant.manage"]').isDisabled(),
      "the picker will not grant a permission the admin does not hold");
    const roleName = ru ? "Ночная смена" : "Night shift";
    await admin.fill(".role-form input[type=text]", roleName);
    await admin.check('.role-form input[name="conversations.reply"]');
    await admin.check('.role-form input[name="conversations.read.team"]');
    await admin.click(".role-form button[type=submit]");
    await admin.locator(`tr[data-role="${roleName}"] td:has-text("conversations.reply")`).waitFor();
    check(true, "the admin made a custom role in the app");
    // A team with the agent in it.
    await admin.click(`.admin .tab:has-text("${ru ? "Команды" : "Teams"}")`);
    const teamName = ru ? "Поддержка" : "Support";
    await admin.fill(".team-form input[type=text]", teamName);
    await admin.check(`.team-form input[name="${email}"]`);
    await admin.click(".team-form button[type=submit]");
    await admin.locator(`tr[data-team="${teamName}"]`).waitFor();
    const team = (await adminApi("GET", "teams")).body.find((t) => t.name === teamName);
    check(team?.members?.length === 1, "the admin made a team with the agent in it");
    // An API key: its secret is shown once and works.
    await admin.click(`.admin .tab:has-text("${ru ? "API-ключи" : "API keys"}")`);
    await admin.fill(".key-form input[type=text]", "CRM sync");
    await admin.check('.key-form input[name="contacts.read"]');
    await admin.click(".key-form button[type=submit]");
    const apiKey = (await admin.locator("code.api-key-secret").textContent()).trim();
    const byKey = await fetch(`${base}/api/v1/contacts?limit=1`, { headers: { authorization: `Bearer ${apiKey}` } });
    check(apiKey.startsWith("sbk_") && byKey.status === 200, `the API key made in the app works (${byKey.status})`);
    const notAllowed = await fetch(`${base}/api/v1/users`, { headers: { authorization: `Bearer ${apiKey}` } });
    check(notAllowed.status === 403, "and only for what it was given");
    await admin.click(`.admin .secret button`);
    await admin.click('tr[data-key="CRM sync"] button');
    await admin.locator(`tr[data-key="CRM sync"] td:has-text("${ru ? "Отозван" : "Revoked"}")`).waitFor();
    const revoked = await fetch(`${base}/api/v1/contacts?limit=1`, { headers: { authorization: `Bearer ${apiKey}` } });
    check(revoked.status === 401, `a key revoked in the app stops working (${revoked.status})`);
    await admin.click(`.admin .tab:has-text("${ru ? "Маршрутизация" : "Routing"}")`);
    await admin.waitForSelector(`.routing option:checked:has-text("${ru ? "Наименее загруженный агент" : "Least loaded agent"}")`, { state: "attached" });
    check((await admin.locator(".routing tbody tr").count()) === 1, "the admin sees the routing in force, per number");
    // The admin changes the workspace's capacity per agent in place; it is saved at once.
    const capacity = admin.locator('.routing input[type=number]').first();
    await capacity.fill("7");
    await capacity.press("Tab");
    let saved = null;
    for (let i = 0; i < 100 && saved !== 7; i++) {
      saved = (await adminApi("GET", "settings/routing")).body?.capacity;
      if (saved !== 7) await new Promise((r) => setTimeout(r, 100));
    }
    check(saved === 7, "the routing change made in the app is in force for the workspace");
    // The admin connects the account's second number in the app, with the credentials Meta (the
    // simulator) gives; a customer who writes to it is routed at once, without a restart.
    const spare = (await (await fetch(`${sim}/_sim/numbers`)).json()).data
      .find((n) => n.phone_number_id === "106540352242923");
    check(spare !== undefined, "the simulator holds a second number");
    await admin.click(`.admin .tab:has-text("${ru ? "Номера" : "Numbers"}")`);
    const form = admin.locator(".admin form");
    const field = (label) => form.locator(`label:has-text("${label}") input`);
    await field(ru ? "ID номера" : "Phone number ID").fill(spare.phone_number_id);
    await field(ru ? "URL Graph API" : "Graph API URL").fill(spare.graph_api_url);
    await field(ru ? "Токен доступа" : "Access token").fill(spare.access_token);
    await field(ru ? "Секрет приложения" : "App secret").fill(spare.app_secret);
    await field(ru ? "Токен проверки" : "Verify token").fill("a verify token");
    await form.locator("button[type=submit]").click();
    const row = admin.locator('.admin tr:has-text("106540352242923")');
    await row.locator(`td:has-text("${ru ? "Активен" : "Active"}")`).waitFor();
    check(await row.locator('td:has-text("+15550783882")').count() === 1,
      "the connected number shows with the display number Meta gave");
    check((await admin.content()).indexOf(spare.access_token) === -1, "its token is not shown again");
    const second = await fetch(`${sim}/_sim/inbound`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ phone_number_id: "106540352242923", from: "4915188877766", name: customerName, text: "hello, second number" }),
    });
    check(second.ok, "a customer wrote to the second number");
    let routed = null;
    for (let i = 0; i < 100 && !routed; i++) {
      const list = await adminApi("GET", "conversations?limit=50");
      routed = (list.body?.items || []).find((c) => c.number === "106540352242923");
      if (!routed) await new Promise((r) => setTimeout(r, 100));
    }
    check(routed !== undefined && routed !== null, "the second number's customer is in the inbox");
    // The admin adds a webhook endpoint: its secret is shown once; a customer's message reaches
    // the receiver signed with it; the delivery log shows it, and a replay sends it again.
    await admin.click(`.admin .tab:has-text("${ru ? "Вебхуки" : "Webhooks"}")`);
    await admin.fill(".webhook-form input[type=url]", `${thirdPartyUrl}/hook`);
    await admin.click(".webhook-form button[type=submit]");
    const secret = (await admin.locator("code.webhook-secret").textContent()).trim();
    check(secret.startsWith("whsec_"), "the endpoint's signing secret is shown once");
    await customerSays("79161234567", ru ? "Есть новости?" : "Any news?");
    const received = () => hooks.find((h) => h.body.includes('"message.received"'));
    await waitFor("the receiver got message.received", () => received() !== undefined);
    check(verified(received(), secret), "the delivery verifies with the secret the app showed");
    const hookId = received().headers["webhook-id"];
    await admin.click(`.admin button:has-text("${ru ? "Готово" : "Done"}")`);
    check(await admin.locator("code.webhook-secret").count() === 0, "the secret is not shown again");
    await admin.click(`.webhooks button:has-text("${ru ? "Доставки" : "Deliveries"}")`);
    const delivery = admin.locator(`.delivery-log li.delivery[data-id="${hookId}"]`);
    await delivery.locator(".delivery-state.delivered").waitFor();
    check(true, "the delivery log shows it delivered");
    const before = hooks.filter((h) => h.headers["webhook-id"] === hookId).length;
    await delivery.locator("button.replay").click();
    await waitFor("the replay reached the receiver",
      () => hooks.filter((h) => h.headers["webhook-id"] === hookId).length > before);
    check(verified(hooks.filter((h) => h.headers["webhook-id"] === hookId).at(-1), secret),
      "a replay from the log delivers it again, with the same webhook-id, signed");
    await admin.screenshot({ path: join(artifacts, `pwa-${lang}-webhooks.png`) });
    await admin.click(`.admin .tab:has-text("${ru ? "Журнал аудита" : "Audit log"}")`);
    await admin.waitForSelector('.admin td:has-text("auth.login")');
    check(true, "the admin sees the audit log with the sign-ins");
    // Filtered to the keys' revocations: only those lines, and the export link carries the filter.
    await admin.fill('.audit-filters input[name=action]', "api_key.revoke");
    await admin.click(".audit-filters button[type=submit]");
    await admin.waitForFunction(() => {
      const rows = [...document.querySelectorAll("table.audit tbody tr")];
      return rows.length > 0 && rows.every((r) => r.children[2].textContent === "api_key.revoke");
    });
    check((await admin.getAttribute(".audit-filters a", "href")).includes("action=api_key.revoke"),
      "the audit log filters by action, and its CSV export takes the same filter");
    await admin.screenshot({ path: join(artifacts, `pwa-${lang}-admin.png`) });

    // 12. Contacts: an Excel-made file (Windows-1251, `;`, national numbers, a fixed line) is
    //     checked and imported; the wizard lists it and the contact list finds the customer.
    await admin.click(`.nav:has-text("${ru ? "Контакты" : "Contacts"}")`);
    await admin.click(`.contacts .tab:has-text("${ru ? "Импорт" : "Import"}")`);
    const rows = ["Телефон;ФИО;Теги", "8 916 700-00-01;Зоя Браузерова;браузер", "8 916 700-00-02;Юрий Браузеров;браузер", "8 495 700-00-03;Офис;"];
    const bytes = [];
    for (const ch of rows.join("\r\n") + "\r\n") {
      const code = ch.codePointAt(0);
      if (code < 128) bytes.push(code);
      else if (code >= 0x410 && code <= 0x44f) bytes.push(code - 0x410 + 0xc0);
      else if (code === 0x401) bytes.push(0xa8);
      else if (code === 0x451) bytes.push(0xb8);
      else throw new Error(`no Windows-1251 byte for ${ch}`);
    }
    // The file goes in through the same REST call the wizard makes (the session's cookie and
    // CSRF token); the wizard's own upload button is not driven here (see the closing note).
    const csrf = await admin.evaluate(async () => (await (await fetch("/api/v1/auth/me")).json()).csrf_token);
    const post = async (dryRun) => admin.evaluate(async ({ bytes, csrf, dryRun }) => {
      const r = await fetch(`/api/v1/contacts/imports?dry_run=${dryRun}&default_region=RU&file_name=clients.csv`, {
        method: "POST", headers: { "content-type": "text/csv", "x-csrf-token": csrf }, body: new Uint8Array(bytes) });
      return { status: r.status, body: await r.json() };
    }, { bytes, csrf, dryRun });
    // Waits on the import's state (the page asks until it is no longer running).
    const finished = async (id) => {
      // The predicate is synchronous: it keeps one status request in flight and answers with
      // the last status once the import has left `running`.
      const handle = await admin.waitForFunction((id) => {
        const key = `__import_${id}`;
        const last = window[key];
        if (!window[`${key}_asking`]) {
          window[`${key}_asking`] = true;
          fetch(`/api/v1/contacts/imports/${id}`)
            .then((r) => r.json())
            .then((s) => { window[key] = s; })
            .finally(() => { window[`${key}_asking`] = false; });
        }
        return last && last.state !== "running" ? last : null;
      }, id, { timeout: 20000 });
      return handle.jsonValue();
    };
    const dry = await post(true);
    check(dry.status === 202, "a dry run of the file is accepted");
    const checked = await finished(dry.body.id);
    check(checked.charset === "windows-1251" && checked.mapping[0].field === "phone", "the check names the charset and maps the columns");
    check(checked.preview.some((v) => /fixed line/.test(v.reason || "")), "the check lists the fixed line as rejected, with its reason");
    const real = await post(false);
    const done = await finished(real.body.id);
    check(done.state === "done" && done.created === 2 && done.rejected === 1, "the import created two contacts and rejected the fixed line");
    await admin.click(`.contacts .tab:has-text("${ru ? "Контакты" : "Contacts"}")`);
    await admin.click(`.contacts .tab:has-text("${ru ? "Импорт" : "Import"}")`);
    await admin.waitForSelector('.imports li:has-text("clients.csv")', { timeout: 15000 });
    check(true, "the wizard lists the import among the recent ones");
    await admin.screenshot({ path: join(artifacts, `pwa-${lang}-import.png`) });
    await admin.click(`.contacts .tab:has-text("${ru ? "Контакты" : "Contacts"}")`);
    await admin.fill(".contact-list input.search", "Зоя");
    await admin.waitForSelector('.row.contact:has-text("Зоя Браузерова")', { timeout: 15000 });
    check((await admin.textContent('.row.contact:has-text("Зоя Браузерова")')).includes("+79167000001"),
      "the contact list finds the imported customer by name, with the number in E.164");
    // A search nobody matches empties the list first, so the next rows are the next search's.
    await admin.fill(".contact-list input.search", "щщнетакихщщ");
    await admin.waitForSelector(".row.contact", { state: "detached", timeout: 15000 });
    await admin.fill(".contact-list input.search", "браузерова з");
    await admin.waitForSelector('.row.contact:has-text("Зоя Браузерова")', { timeout: 15000 });
    check(true, "the contact list finds the customer by the surname too, with a word of the first name");
    // The workspace's own stop words: the server's shown first, then saved as the workspace's.
    await admin.click(`.contacts .tab:has-text("${ru ? "Стоп-слова" : "Stop words"}")`);
    await admin.waitForFunction(() => (document.querySelector(".stop-words textarea")?.value || "").includes("СТОП"), null, { timeout: 15000 });
    check(await admin.isVisible(".stop-words .hint:not(.saved)"), "the stop words tab shows the server's list as the server's");
    await admin.fill(".stop-words textarea", `${ru ? "Хватит" : "Enough"}\nСТОП`);
    await admin.click(".stop-words button[type=submit]");
    await admin.waitForSelector(".stop-words .hint.saved", { timeout: 15000 });
    const kept = await admin.evaluate(() => fetch("/api/v1/settings/stop-words").then((r) => r.json()));
    check(kept.saved && kept.words[0] === (ru ? "Хватит" : "Enough"), "the workspace's own stop words are saved from the app");
    await admin.click(".stop-words button.reset");
    await admin.waitForSelector(".stop-words .hint:not(.saved)", { timeout: 15000 });
    check(true, "the workspace goes back to the server's stop words from the app");
    await admin.click(`.contacts .tab:has-text("${ru ? "Контакты" : "Contacts"}")`);
    await admin.screenshot({ path: join(artifacts, `pwa-${lang}-contacts.png`) });

    // 13. A campaign made in the wizard: the imported customers (their tag) get the Russian
    //     order update with their own name and a fixed order number; the pre-flight counts
    //     them and prices it; the campaign's page follows it to the end; the Costs page shows
    //     what the simulator priced.
    await admin.click(`.nav:has-text("${ru ? "Рассылки" : "Campaigns"}")`);
    // A template made in the app: an example asked for each parameter of the body, Meta's
    // review (the simulator's) followed in the list; a name Meta refuses is named.
    await admin.click(".campaigns .templates-button");
    const tpl = admin.locator(".template-form");
    const tplName = `delivery_${lang}`;
    await tpl.locator("input[name=name]").fill(tplName);
    await tpl.locator("textarea[name=body]").fill("Hi {{1}}, your parcel {{2}} arrives today.");
    await tpl.locator('input[name="example-2"]').fill("#1042");
    await tpl.locator('input[name="example-1"]').fill("Olga");
    await tpl.locator("input[name=quick]").fill("Thanks, Call me");
    await tpl.locator("button[type=submit]").click();
    await admin.locator(`tr[data-template="${tplName}"] td.template-status.approved`).waitFor({ timeout: 15000 });
    check(true, "a template made in the app was submitted and shows approved after review");
    await tpl.locator("input[name=name]").fill("Bad Name");
    await tpl.locator("textarea[name=body]").fill("Hello");
    await tpl.locator("button[type=submit]").click();
    await admin.locator('.toast:has-text("name")').waitFor();
    check(true, "a template name Meta would refuse is named, and nothing is submitted");
    await admin.click(`.campaigns .toolbar button:has-text("${ru ? "Назад" : "Back"}")`);
    await admin.click(`.campaigns .toolbar button:has-text("${ru ? "Новая рассылка" : "New campaign"}")`);
    await admin.fill(".wizard fieldset:nth-of-type(1) input", `Browser ${lang}`);
    await admin.check(".wizard fieldset:nth-of-type(2) label.check input");
    await admin.selectOption(".wizard fieldset:nth-of-type(2) select", "order_update|ru");
    await admin.waitForSelector('.wizard .template-body:has-text("{{2}}")');
    await admin.check(".wizard .segmented label:nth-child(2) input");
    await admin.selectOption(".wizard fieldset:nth-of-type(3) select", "браузер");
    await admin.waitForSelector(`.wizard .count:has-text("2")`);
    check(true, "the wizard counts the audience live (two customers with the tag)");
    await admin.selectOption(".wizard .var-row:nth-of-type(2) select", "text");
    await admin.fill(".wizard .var-row:nth-of-type(2) input", "A-100");
    await admin.click(`.wizard button[type=submit]`);
    await admin.waitForSelector(".preflight", { timeout: 15000 });
    check((await admin.textContent(".preflight dd strong")).trim() === "2", "the pre-flight finds two recipients");
    const sample = await admin.textContent(".preflight blockquote");
    check(/(Зоя Браузерова|Юрий Браузеров).*A-100/.test(sample), `the pre-flight shows a recipient's message with their name and the fixed value (${sample})`);
    await admin.screenshot({ path: join(artifacts, `pwa-${lang}-campaign-preflight.png`), fullPage: true });
    await admin.click("button.start");
    await admin.waitForSelector(".progress .badge.completed", { timeout: 30000 });
    const sentTemplates = (await simSent()).filter((m) => JSON.stringify(m).includes("A-100"));
    check(
      sentTemplates.length === 2 && ["Зоя Браузерова", "Юрий Браузеров"].every((n) => sentTemplates.some((m) => JSON.stringify(m).includes(n))),
      `WhatsApp received one template per customer, with their names (${sentTemplates.length})`,
    );
    await admin.waitForSelector('.funnel li:has-text("2")');
    check(true, "the campaign's page shows it completed with its funnel");
    await admin.screenshot({ path: join(artifacts, `pwa-${lang}-campaign.png`), fullPage: true });
    // The simulator prices each message in its status webhook; the ledger has them once
    // recorded, which the page shows when opened after that.
    await admin.waitForFunction(() => {
      if (!window.__costs_asking) {
        window.__costs_asking = true;
        fetch("/api/v1/costs?group_by=campaign")
          .then((r) => r.json())
          .then((r) => { window.__costs = r; })
          .finally(() => { window.__costs_asking = false; });
      }
      return (window.__costs?.lines || []).some((l) => l.key && l.billed >= 2);
    }, null, { timeout: 20000 });
    await admin.click(`.nav:has-text("${ru ? "Расходы" : "Costs"}")`);
    await admin.click(`.costs .tab:has-text("${ru ? "Рассылка" : "Campaign"}")`);
    await admin.waitForSelector(".costs .cost-chart .chart-row");
    check((await admin.locator(".costs tbody tr").count()) >= 1, "the Costs page charts and lists the priced messages by campaign");
    check((await admin.getAttribute(".costs a.button", "href")).startsWith("/api/v1/costs/charges?"), "the Costs page links the reconciliation CSV");
    await admin.screenshot({ path: join(artifacts, `pwa-${lang}-costs.png`), fullPage: true });
  } finally {
    await office.close();
  }

  check(consoleErrors.length === 0, `no errors in the console (${consoleErrors.join(" | ")})`);
  console.log(`pwa ${lang}: OK (first render ${bootMs} ms)`);
} catch (e) {
  failed = true;
  console.error(String(e && e.stack ? e.stack : e));
  // What the agent's screen showed when it failed.
  if (page) await page.screenshot({ path: join(artifacts, `pwa-${lang}-failure.png`) }).catch(() => {});
} finally {
  await phone.close();
}
process.exit(failed ? 1 : 0);

// Switchboard's service worker: it caches the app shell (this build's page, script, module,
// styles and icons) so the app starts offline and at once, and shows Web Push notifications
// (assignments, mentions, customers' replies) while the app is not in view. Conversation data,
// the API and the socket are never cached: they always go to the network.
const VERSION = "{{version}}";
const CACHE = "switchboard-shell-" + VERSION;
const SHELL = {{shell}};

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/assets/")) {
    // Hashed names never change content: the cached copy is the right one.
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
  } else if (request.mode === "navigate" && (url.pathname === "/" || url.pathname === "/index.html")) {
    // The page from the network when there is one (a new build), else the cached shell.
    event.respondWith(fetch(request).catch(() => caches.match("/")));
  }
});

// A push's words in the device's language where the server's English can be bettered: the
// notice says why (`reason`) and about whom (`name`).
const WORDS = {
  ru: {
    assigned: (n) => ({ title: n.name, body: "Диалог назначен вам" }),
    mentioned: (n) => ({ title: n.name + " упоминает вас", body: n.body }),
    test: () => ({ title: "Switchboard", body: "Уведомления приходят на это устройство." }),
  },
};

function worded(notice) {
  const lang = (self.navigator.language || "en").slice(0, 2).toLowerCase();
  const local = WORDS[lang] && WORDS[lang][notice.reason];
  return local ? local(notice) : { title: notice.title, body: notice.body };
}

self.addEventListener("push", (event) => {
  let notice;
  try {
    notice = event.data.json();
  } catch (e) {
    notice = { reason: "", title: "Switchboard", body: "", url: "/", tag: "switchboard" };
  }
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      // The app in view shows the event itself.
      if (windows.some((w) => w.visibilityState === "visible" && w.focused)) return;
      const { title, body } = worded(notice);
      return self.registration.showNotification(title, {
        body,
        tag: notice.tag,
        renotify: true,
        icon: "{{icon192}}",
        badge: "{{icon192}}",
        timestamp: notice.at,
        data: { url: notice.url || "/" },
      });
    }),
  );
});

// A tap opens the conversation: in the app's window when one is open (told by a message),
// else in a new one.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => new URL(w.url).origin === self.location.origin);
      if (open) {
        open.postMessage({ type: "open", url });
        return open.focus();
      }
      return self.clients.openWindow(url);
    }),
  );
});

// Switchboard's service worker: it caches the app shell (this build's page, script, module,
// styles and icons) so the app starts offline and at once. Conversation data, the API and the
// socket are never cached: they always go to the network.
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

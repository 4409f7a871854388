// Holdix service worker. `cargo xtask` writes dist/sw.js from this file after each build:
// VERSION is a digest of dist's files and PRECACHE lists every one of them, so the cache
// always holds exactly one consistent build.
//
// - Hashed files (name-<8 to 16 hex: Trunk drops leading zeros>.ext) never change:
//   cache first.
// - index.html, the manifest, the loader and the icons: network first (4 s), cache when
//   offline, so a new build is seen at once.
// - Anything else (the proxy, exchanges, other origins) is not touched: no respondWith,
//   nothing cached.
const VERSION = '__VERSION__';
const PRECACHE = ['__PRECACHE__'];
const CACHE = `holdix-${VERSION}`;
const HASHED = /-[0-9a-f]{8,16}(_bg)?\.\w+$/;
const scope = new URL(self.registration.scope);

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(PRECACHE.map((f) => new Request(f, { cache: 'reload' })))),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('holdix-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// The page asks for this when the user clicks "Reload" on the update banner.
self.addEventListener('message', (event) => {
  if (event.data === 'skip-waiting') self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  let file = url.pathname.slice(scope.pathname.length);
  if (request.mode === 'navigate' && file === '') file = 'index.html';
  if (!PRECACHE.includes(file)) return;
  const cached = () => caches.open(CACHE).then((cache) => cache.match(file));
  if (HASHED.test(file)) {
    event.respondWith(cached().then((hit) => hit || fetch(request)));
    return;
  }
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 4000));
  event.respondWith(
    Promise.race([fetch(request), timeout])
      .then((response) => (response.ok ? response : cached().then((hit) => hit || response)))
      .catch(() => cached().then((hit) => hit || Response.error())),
  );
});

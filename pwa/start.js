// Starts Holdix: loads the app (the Content-Security-Policy allows no inline script, so this
// replaces Trunk's inline loader), then registers the service worker and shows
// "New version available — Reload" when a new build is waiting.
const tag = document.querySelector('script[data-app-js]');
const bindings = await import(tag.dataset.appJs);
await bindings.default({ module_or_path: tag.dataset.appWasm });
window.wasmBindings = bindings;

if ('serviceWorker' in navigator) {
  const sw = navigator.serviceWorker;
  const banner = document.getElementById('update');
  let reloading = false;
  sw.register('sw.js').then((registration) => {
    const offer = () => {
      if (registration.waiting && sw.controller) banner.hidden = false;
    };
    const track = (worker) => worker?.addEventListener('statechange', offer);
    track(registration.installing);
    registration.addEventListener('updatefound', () => track(registration.installing));
    offer();
    banner.querySelector('button').addEventListener('click', () => {
      reloading = true;
      registration.waiting?.postMessage('skip-waiting');
    });
  }, (e) => console.warn(`Holdix works without offline support here: ${e.message}`));
  sw.addEventListener('controllerchange', () => {
    if (reloading) location.reload();
  });
}

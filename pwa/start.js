// Starts Holdix: loads the app (the Content-Security-Policy allows no inline script, so this
// replaces Trunk's inline loader), then registers the service worker and shows
// "New version available — Reload" when a new build is waiting.
const tag = document.querySelector('script[data-app-js]');
// Compiles while downloading; a host that sends wasm with another content type gets the
// slower way instead of a failure.
async function compile(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  try {
    return await WebAssembly.compileStreaming(response.clone());
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    return WebAssembly.compile(await response.arrayBuffer());
  }
}
try {
  const [bindings, module] = await Promise.all([import(tag.dataset.appJs), compile(tag.dataset.appWasm)]);
  // The key-derivation worker (src/kdf.rs) instantiates this same module: no second fetch or compile.
  window.holdixModule = module;
  await bindings.default({ module_or_path: module });
  window.wasmBindings = bindings;
} catch (e) {
  // Nothing is stored by loading, so nothing is lost: say what happened and what to do.
  const p = document.createElement('p');
  p.className = 'load-error';
  p.setAttribute('role', 'alert');
  p.textContent = `Holdix could not start (${e.message}). Check your connection and reload the page; your vault is not affected.`;
  document.body.append(p);
  throw e;
}

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
    // Look for a new build now and hourly (browsers only check on some navigations).
    const check = () => registration.update().catch(() => {});
    check();
    setInterval(check, 3600 * 1000);
    banner.querySelector('button').addEventListener('click', () => {
      reloading = true;
      registration.waiting?.postMessage('skip-waiting');
    });
  }, (e) => console.warn(`Holdix works without offline support here: ${e.message}`));
  sw.addEventListener('controllerchange', () => {
    if (reloading) location.reload();
  });
}

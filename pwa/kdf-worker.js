// Derives vault keys off the page's thread (see src/kdf.rs). The page sends the app's
// compiled wasm module and its JS bindings' URL, then one job: the password's UTF-8 bytes and
// the vault header. The answer is the 32 key bytes; the page terminates this worker after it.
let app;
self.onmessage = async ({ data }) => {
  if (data.module) {
    try {
      const bindings = await import(data.js);
      // The app's `main` sees no window here and mounts nothing.
      await bindings.default({ module_or_path: data.module });
      app = bindings;
      self.postMessage({ ready: true });
    } catch (e) {
      self.postMessage({ error: `could not start: ${e.message}` });
    }
    return;
  }
  try {
    const key = app.kdf_derive(data.password, data.header);
    self.postMessage({ key }, [key.buffer]);
  } catch (e) {
    // A VaultError's message (parameters out of range): never the password.
    self.postMessage({ error: String(e.message ?? e) });
  } finally {
    data.password.fill(0);
  }
};

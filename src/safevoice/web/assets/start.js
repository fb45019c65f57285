// The first script of the pages that use the Web Worker: it starts the worker while the page is
// still loading.
//
// The worker (libsodium.js and all of SafeVoice's cryptography, most of a page's bytes) would
// otherwise be named only by the page script, so the browser would ask for it after that script
// had arrived: one more round trip, about a second on Tor. Browsers do not preload a module
// worker (neither `preload` nor `modulepreload` serves `new Worker`), so the page carries this
// script inline, ahead of its stylesheet, and the page script takes the worker over
// (`takeWorker` in ui.js). Without WebAssembly nothing is started: the page explains instead.
//
// Rules kept for the release bundle (safevoice.web.bundle): a classic script (no import or
// export), ASCII only, without a less-than sign (it is written into the page as it is); the worker is named
// by one string literal (the relative URL of worker.js), which the build replaces with the
// bundled worker's URL.
// The pages' Content-Security-Policy allows this exact text by its SHA-256 and no other inline
// script.

(() => {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.instantiate !== "function") return;
  const worker = new Worker("./worker.js", { type: "module", name: "safevoice" });
  const started = { worker, failed: false };
  // The page script is not listening yet: remember a worker that could not start.
  worker.addEventListener("error", () => {
    started.failed = true;
  });
  self.safevoiceWorker = started;
})();

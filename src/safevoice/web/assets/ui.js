// What the reporter pages' scripts share: their strings, showing and hiding, and the list of
// files a reporter chose. No cryptography and no network here; everything secret is done in
// the Web Worker.
//
// Module rules kept for the release bundle (safevoice.web.bundle): no imports, and exports
// only as `export function` declarations. The build puts this module in front of each page
// script, which imports it with exactly one import line.

export function readJson(id) {
  return JSON.parse(document.getElementById(id).textContent);
}

// The page's strings: `t(text, values)` is the text in the page's language (the catalogue's
// translations, sent with the page as a JSON block; English needs none) with its %(name)s
// placeholders filled. The texts are the catalogue's English source texts, so `pybabel extract`
// finds them in the calls to t() and N_().
export function translator(strings) {
  return (text, values = {}) =>
    (strings[text] || text).replace(/%\((\w+)\)s/g, (_, name) =>
      name in values ? String(values[name]) : "",
    );
}

// Marks a text for the catalogue where it is chosen from a table; t() translates it when shown.
export function N_(text) {
  return text;
}

// Why a page refuses to work, by the worker's reason.
const REFUSED_TEXTS = {
  pin: N_("The committee's list of readers is not signed by the committee root built into this page. The server may have been tampered with."),
  expired: N_("The committee's list of readers has expired. The committee must sign a new one before reports can be sent safely."),
  future: N_("The committee's list of readers claims to be issued in the future. Check this device's clock; if it is right, do not trust this page."),
  manifest: N_("The committee's list of readers is malformed or breaks SafeVoice's rules."),
  broken: N_("The part of this page that encrypts your report could not start."),
  survey: N_("This survey is not signed by a member of your committee, so it is not shown. Do not answer it here."),
};

// Why sending failed, by the worker's reason; an unknown reason reads as "internal".
const FAILED_TEXTS = {
  not_ready: N_("The page is not ready yet; please wait a moment and try again."),
  unreachable: N_("Your report was not confirmed: the server could not be reached for several minutes. Nothing was lost: keep this page open and press the button again later; the same report is sent again and cannot arrive twice."),
  server: N_("The server refused the report. Nothing was stored; please try again later."),
  too_large: N_("Your report is too long. Please shorten it."),
  receipt: N_("The server's receipt does not match what you sent, so your report may not have reached the committee's instance. Do not rely on this submission; report through another channel."),
  no_wasm: N_("Your browser cannot encrypt here."),
  internal: N_("Something went wrong on this device. Nothing was sent."),
  file_unreadable: N_("One of the files could not be read; it may have been moved or changed. Choose it again and press the button again."),
  file_too_large: N_("One of the files is larger than this server accepts. Nothing of it was kept; please leave it out or make it smaller."),
  typo: N_("The follow-up code has a typo."),
  old_code: N_("This code belongs to a key derivation this server no longer offers. Please contact the committee through another channel."),
  wrong_code: N_("No case opens with this code. Check it character by character; if it is right, the case may have been closed and deleted."),
  unreadable: N_("Your case could not be opened with the keys from this code: the server sent a key that is not yours. Do not trust this page; report through another channel."),
  session: N_("Your session has ended. Please open your case again with your code."),
  empty: N_("Please write your answer before sending; an empty message cannot be sent."),
  unverified: N_("The conversation does not verify, so your answer was not sent."),
  held: N_("The committee is renewing the keys of your case, so your answer was not sent. Please try again later."),
  survey: N_("This survey is not available on this page any more."),
  survey_closed: N_("This survey has closed and no longer takes answers."),
};

export function refusedText(t, reason) {
  return t(REFUSED_TEXTS[reason] || REFUSED_TEXTS.broken);
}

export function failedText(t, reason) {
  return t(FAILED_TEXTS[reason] || FAILED_TEXTS.internal);
}

// A day (YYYY-MM-DD) written the way the page's language writes dates, as the server writes it
// with Babel (the same CLDR "long" format, Latin digits); never a time. Anything else is shown
// as it is.
export function formatDay(day) {
  if (typeof day !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return String(day ?? "");
  const format = new Intl.DateTimeFormat(pageLanguage(), {
    dateStyle: "long",
    timeZone: "UTC",
    numberingSystem: "latn",
  });
  return format.format(new Date(`${day}T00:00:00Z`));
}

// The start page, in the language the URL chose (if none, the browser's languages decide).
export function startPage() {
  const lang = new URLSearchParams(window.location.search).get("lang");
  return lang ? `/?lang=${encodeURIComponent(lang)}` : "/";
}

export function show(id, visible = true) {
  document.getElementById(id).hidden = !visible;
}

export function setText(id, text) {
  document.getElementById(id).textContent = text;
}

export function wasmAvailable() {
  return typeof WebAssembly === "object" && typeof WebAssembly.instantiate === "function";
}

// The page's Web Worker: the one that the page's inline first script (start.js) started while
// the page was loading, else a new one from `url` (a page opened without that script still
// works, one round trip slower). `onBroken` is called when the worker cannot start, also if it
// failed before this script was listening; then the result is null.
export function takeWorker(url, onBroken) {
  const started = self.safevoiceWorker;
  self.safevoiceWorker = undefined;
  const worker = started ? started.worker : new Worker(url, { type: "module", name: "safevoice" });
  if (started && started.failed) {
    worker.terminate();
    onBroken();
    return null;
  }
  worker.addEventListener("error", onBroken);
  return worker;
}

// Sizes as people read them, in the catalogue's units.
export function formatSize(t, bytes) {
  const oneDecimal = (n) =>
    n.toLocaleString(pageLanguage(), {
      minimumFractionDigits: 1,
      maximumFractionDigits: 1,
      numberingSystem: "latn",
    });
  if (bytes < 1024) return t("%(n)s bytes", { n: grouped(bytes) });
  if (bytes < 1024 * 1024) return t("%(n)s KB", { n: oneDecimal(bytes / 1024) });
  return t("%(n)s MB", { n: oneDecimal(bytes / (1024 * 1024)) });
}

// The files chosen in a file input, listed by name and size below it (names shown with
// textContent, never as markup).
export function listFiles(t, input, list) {
  list.replaceChildren();
  for (const file of Array.from(input.files || [])) {
    const item = document.createElement("li");
    item.textContent = t("%(name)s (%(size)s)", { name: file.name, size: formatSize(t, file.size) });
    list.append(item);
  }
  list.hidden = list.children.length === 0;
}

export function chosenFiles(input) {
  return input ? Array.from(input.files || []) : [];
}

// Characters as the server counts them (Unicode code points, not UTF-16 units), so the page
// and the server agree on what fits in one envelope.
export function charCount(text) {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

// Numbers as the page's language writes them (in Latin digits, as the server writes them).
function pageLanguage() {
  return document.documentElement.lang || "en";
}

function grouped(n) {
  return n.toLocaleString(pageLanguage(), { numberingSystem: "latn" });
}

// A live counter under a text box whose limit is data-max-chars. Nothing is ever cut: a text
// over the limit is only marked, and `tooLong` tells the caller to refuse it with a sentence.
export function watchLength(t, textarea, counter) {
  const max = Number(textarea.dataset.maxChars);
  const state = { over: 0, max: grouped(max) };
  const update = () => {
    const n = charCount(textarea.value);
    state.over = Math.max(0, n - max);
    const values = { n: grouped(n), max: state.max, over: grouped(state.over) };
    const text = state.over
      ? N_("%(n)s of %(max)s characters: %(over)s too many")
      : N_("%(n)s of %(max)s characters");
    counter.textContent = t(text, values);
    counter.classList.toggle("over", state.over > 0);
  };
  textarea.addEventListener("input", update);
  update();
  return {
    tooLong: () => {
      update();
      return state.over > 0 ? { over: grouped(state.over), max: state.max } : null;
    },
  };
}

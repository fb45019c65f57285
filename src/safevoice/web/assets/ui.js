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

// The catalogue's `js.` strings with their {name} placeholders filled. `t.first(keys, values)`
// takes the first key the catalogue has, for wording that one page words its own way.
export function translator(strings) {
  const t = (key, values = {}) => {
    const text = strings[key] || key;
    return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : ""));
  };
  t.first = (keys, values = {}) => {
    const found = keys.find((key) => key in strings);
    return t(found || keys[keys.length - 1], values);
  };
  return t;
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

// Sizes as people read them, in the catalogue's units.
export function formatSize(t, bytes) {
  if (bytes < 1024) return t("js.size.bytes", { n: bytes });
  if (bytes < 1024 * 1024) return t("js.size.kib", { n: (bytes / 1024).toFixed(1) });
  return t("js.size.mib", { n: (bytes / (1024 * 1024)).toFixed(1) });
}

// The files chosen in a file input, listed by name and size below it (names shown with
// textContent, never as markup).
export function listFiles(t, input, list) {
  list.replaceChildren();
  for (const file of Array.from(input.files || [])) {
    const item = document.createElement("li");
    item.textContent = t("js.files.item", { name: file.name, size: formatSize(t, file.size) });
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

function grouped(n) {
  return n.toLocaleString(document.documentElement.lang || "en");
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
    counter.textContent = t(state.over ? "js.count.over" : "js.count.text", values);
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

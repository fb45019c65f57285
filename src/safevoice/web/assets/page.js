// The report page: form behaviour, progress and the one-time display of the follow-up code.
//
// All cryptography runs in the Web Worker (worker.js); this script only moves the reporter's
// answers to it and shows what comes back. It never lets the form post in plain text: while it
// runs, every submission goes through the worker, and the server-sealed form is used only when
// WebAssembly is missing, the operator enabled that form, and the reporter chose it after
// reading what it means. Nothing is written to cookies or storage; the code exists only in this
// page's memory and on screen until the reporter confirms they have written it down.
//
// Files the reporter attaches are handed to the worker as File objects; it reads, encrypts and
// uploads them one chunk at a time before the report, which carries their keys, is sent.
//
// Module rules kept for the release bundle (safevoice.web.bundle): one import, of ui.js, which
// the build puts in front of this script; the worker is named by one string literal (the
// relative URL of worker.js), which the build replaces with the hashed name of the bundled
// worker.

import {
  N_,
  chosenFiles,
  failedText,
  formatDay,
  listFiles,
  readJson,
  refusedText,
  setText,
  show,
  startPage,
  takeWorker,
  translator,
  wasmAvailable,
  watchLength,
} from "./ui.js";

const t = translator(readJson("sv-strings"));
const intake = readJson("sv-intake");
const form = document.getElementById("report-form");
const channel = form.dataset.channel;
const serverSealedEnabled = form.dataset.serverSealed === "on";
const submitButton = document.getElementById("submit-button");
const formError = document.getElementById("form-error");
const fileInput = document.getElementById("report-files");
// The progress texts, by the worker's stage.
const PROGRESS_TEXTS = {
  start: N_("Starting…"),
  key: N_("Creating your follow-up code and its keys…"),
  work: N_("Solving the anti-spam puzzle…"),
  encrypt: N_("Encrypting your report…"),
  send: N_("Sending the encrypted report…"),
  upload: N_("Encrypting and sending your files…"),
  retry: N_("The server is not answering or cannot store reports at the moment. Your report, already encrypted, is kept on this page and sent again automatically; it cannot arrive twice. Please keep this page open…"),
};

let worker = null;
let sending = false;
let sealedChosen = false;
let leaveGuard = false;
// Something typed or chosen that has not been sent: leaving the page would lose it.
let typed = false;
const reportText = document.getElementById("report-text");
const reportLength = watchLength(t, reportText, document.getElementById("count-report-text"));

// --- refusing, explaining ---

function refuse(reason) {
  submitButton.disabled = true;
  show("status-checking", false);
  if (reason === "no_wasm") {
    explainNoWasm();
    return;
  }
  setText("refused-reason", refusedText(t, reason));
  show("refused");
  document.getElementById("refused-heading").focus();
}

function explainNoWasm() {
  show("no-wasm");
  show("no-wasm-sealed", serverSealedEnabled);
  document.getElementById("no-wasm-heading").focus();
  if (worker) worker.terminate();
  worker = null;
}

function chooseServerSealed() {
  // The reporter read what the server-sealed form means and chose it: from now on the form
  // posts as plain HTML, exactly as it does with JavaScript turned off (and, like it, without
  // files: the file field has no name, so a plain post never carries even a file's name).
  sealedChosen = true;
  fileInput.value = "";
  show("files-field", false);
  show("no-wasm", false);
  form.hidden = false;
  form.noValidate = false;
  submitButton.textContent = t("Send (sealed by the server)");
  submitButton.disabled = false;
  show("sealed-chosen");
  submitButton.focus();
}

// --- the form ---

function fields() {
  return Array.from(form.querySelectorAll("[data-question], #report-text"));
}

function clearErrors() {
  for (const error of form.querySelectorAll(".field-error")) {
    error.hidden = true;
    error.textContent = "";
  }
  for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
  formError.hidden = true;
}

function markInvalid(control, message) {
  const error = document.getElementById(control.dataset.error);
  error.textContent = message;
  error.hidden = false;
  const targets = control.matches("fieldset") ? control.querySelectorAll("input") : [control];
  for (const target of targets) target.setAttribute("aria-invalid", "true");
}

function answerOf(control) {
  if (control.matches("fieldset")) {
    const chosen = control.querySelector("input:checked");
    return chosen ? chosen.value : "";
  }
  return control.value;
}

function collect() {
  clearErrors();
  const invalid = [];
  const answers = {};
  for (const control of fields()) {
    const value = answerOf(control);
    if (control.id === "report-text") {
      const tooLong = reportLength.tooLong();
      if (!value.trim()) {
        markInvalid(control, t("Please describe what happened."));
        invalid.push(control);
      } else if (tooLong) {
        markInvalid(control, t("Your report is %(over)s characters longer than this form accepts (%(max)s). Nothing was cut and nothing was sent: please shorten it, or send the rest later as an answer with your follow-up code.", tooLong));
        invalid.push(control);
      }
      continue;
    }
    if (control.dataset.required === "true" && !value.trim()) {
      markInvalid(control, t("Please answer this question."));
      invalid.push(control);
    }
    if (value.trim()) answers[control.dataset.question] = value;
  }
  const exclude = Array.from(form.querySelectorAll("input[name=exclude]:checked")).map(
    (box) => box.value,
  );
  const everyone = form.querySelectorAll("input[name=exclude]").length;
  if (everyone > 0 && exclude.length === everyone) {
    const list = document.getElementById("exclude-list");
    markInvalid(list, t("At least one committee member must be able to read your report."));
    invalid.push(list);
  }
  if (invalid.length) {
    const first = invalid[0];
    (first.matches("fieldset") ? first.querySelector("input") : first).focus();
    return null;
  }
  return { channel, text: document.getElementById("report-text").value, answers, exclude };
}

function lockForm(locked) {
  for (const control of form.querySelectorAll("input, textarea, select, button")) {
    control.disabled = locked;
  }
}

function onSubmit(event) {
  if (sealedChosen) {
    // The browser posts the form itself now; that is not leaving a typed report behind.
    typed = false;
    return;
  }
  event.preventDefault();
  if (sending || !worker) return;
  const report = collect();
  if (!report) return;
  sending = true;
  lockForm(true);
  show("progress-panel");
  updateProgress("start", 0);
  worker.postMessage({ type: "submit", report, files: chosenFiles(fileInput) });
}

// --- progress ---

const STAGE_ORDER = ["start", "key", "work", "upload", "encrypt", "send", "retry"];

function updateProgress(stage, fraction) {
  if (!sending) return;
  const bar = document.getElementById("progress-bar");
  const index = Math.max(0, STAGE_ORDER.indexOf(stage));
  const overall = Math.min(0.99, (index + fraction) / (STAGE_ORDER.length - 1));
  bar.value = Math.round(overall * 100);
  bar.textContent = `${bar.value} %`;
  const text = t(PROGRESS_TEXTS[stage] || "");
  const status = document.getElementById("progress-text");
  if (status.textContent !== text) status.textContent = text;
}

// --- the code ---

function showCode(result) {
  sending = false;
  typed = false;
  for (const control of fields()) {
    if (control.matches("fieldset")) {
      for (const input of control.querySelectorAll("input")) input.checked = false;
    } else {
      control.value = "";
    }
  }
  fileInput.value = "";
  listFiles(t, fileInput, document.getElementById("file-list"));
  form.hidden = true;
  show("progress-panel", false);
  show("intro", false);
  setText("received-on", t("Your report was received on %(day)s.", { day: formatDay(result.receivedOn) }));
  setText("follow-up-code", result.code);
  // The days the server holds the committee to, computed there by the one deadline function.
  setText("next-ack", t("By %(day)s: a committee member acknowledges your report with a signed message that you read with your follow-up code.", { day: formatDay(result.ackDueOn) }));
  setText("next-feedback", t("By %(day)s at the latest: the committee tells you what it is doing about your report (3 months after the acknowledgement).", { day: formatDay(result.feedbackDueOn) }));
  setText("next-return", t("Come back with your code after a few days to read the acknowledgement and any questions, and again before %(day)s. If a deadline passes without word from the committee, you may report to the competent authorities listed on the start page.", { day: formatDay(result.ackDueOn) }));
  setText("receipt", JSON.stringify(result.receipt, null, 2));
  show("code-panel");
  leaveGuard = true;
  document.getElementById("code-heading").focus();
}

async function copyCode() {
  const code = document.getElementById("follow-up-code").textContent;
  try {
    await navigator.clipboard.writeText(code);
    setText("copy-status", t("Copied."));
  } catch {
    const range = document.createRange();
    range.selectNodeContents(document.getElementById("follow-up-code"));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    setText("copy-status", t("Copying is not allowed here; the code is selected, copy it with your keyboard."));
  }
}

function finish() {
  leaveGuard = false;
  setText("follow-up-code", "");
  setText("receipt", "");
  if (worker) worker.terminate();
  worker = null;
  window.location.assign(startPage());
}

function onWorkerMessage(event) {
  const message = event.data;
  if (message.type === "ready") {
    show("status-checking", false);
    setText("pin-shown", message.fingerprint);
    show("pin-line");
    fillExclusions(message.members);
    show("files-field");
    submitButton.disabled = false;
  } else if (message.type === "refused") {
    refuse(message.reason);
  } else if (message.type === "progress") {
    updateProgress(message.stage, message.fraction);
  } else if (message.type === "done") {
    showCode(message);
  } else if (message.type === "failed") {
    sending = false;
    show("progress-panel", false);
    lockForm(false);
    // Uploads that were cut off continue where they stopped when the reporter sends again.
    formError.textContent = failedText(t, message.reason);
    formError.hidden = false;
    formError.focus();
  }
}

// The list of members to exclude comes from the manifest the worker verified, never from the
// page the server rendered.
function fillExclusions(members) {
  const list = document.getElementById("exclude-options");
  list.replaceChildren();
  for (const member of members) {
    const id = `exclude-${member.id}`;
    const row = document.createElement("div");
    row.className = "choice";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.name = "exclude";
    box.value = member.id;
    box.id = id;
    box.setAttribute("spellcheck", "false");
    box.setAttribute("autocomplete", "off");
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = member.name;
    row.append(box, label);
    list.append(row);
  }
}

function start() {
  form.noValidate = true;
  form.addEventListener("submit", onSubmit);
  document.getElementById("copy-code").addEventListener("click", copyCode);
  document.getElementById("use-sealed").addEventListener("click", chooseServerSealed);
  fileInput.addEventListener("change", () =>
    listFiles(t, fileInput, document.getElementById("file-list")),
  );
  const written = document.getElementById("written-down");
  const done = document.getElementById("done-button");
  written.addEventListener("change", () => {
    done.disabled = !written.checked;
  });
  done.addEventListener("click", finish);
  form.addEventListener("input", () => {
    typed = true;
  });
  form.addEventListener("change", () => {
    typed = true;
  });
  window.addEventListener("beforeunload", (event) => {
    if (leaveGuard || sending || typed) {
      event.preventDefault();
      // Older browsers show the warning only when returnValue is set.
      event.returnValue = t("You have started a report that has not been sent. If you leave this page, what you typed is lost.");
    }
  });
  submitButton.disabled = true;
  if (!wasmAvailable()) {
    form.hidden = true;
    explainNoWasm();
    return;
  }
  form.hidden = false;
  show("status-checking");
  worker = takeWorker(new URL("./worker.js", import.meta.url), () => refuse("broken"));
  if (!worker) return;
  worker.addEventListener("message", onWorkerMessage);
  worker.postMessage({ type: "start", intake });
}

start();

// The follow-up page: log in with the follow-up code, read the verified thread, answer.
//
// All cryptography runs in the Web Worker (worker.js): this script hands it the code the
// reporter typed and the answers they write, and shows what comes back: the case's status and
// deadlines, the thread decrypted and verified, and, plainly, every problem found in it. The
// code, the keys and the session token never leave the worker; nothing is written to cookies
// or storage. The code field is emptied as soon as the case is open; leaving the page ends
// the worker and its session.
//
// Module rules kept for the release bundle (safevoice.web.bundle): one import, of ui.js, which
// the build puts in front of this script; the worker is named by one string literal (the
// relative URL of worker.js), which the build replaces with the hashed name of the bundled
// worker.

import {
  chosenFiles,
  formatSize,
  listFiles,
  readJson,
  setText,
  show,
  translator,
  wasmAvailable,
  watchLength,
} from "./ui.js";

const t = translator(readJson("sv-strings"));
const data = readJson("sv-follow-up");
const loginForm = document.getElementById("login-form");
const serverSealedEnabled = loginForm.dataset.serverSealed === "on";
const codeInput = document.getElementById("code");
const loginButton = document.getElementById("login-button");
const loginError = document.getElementById("login-error");
const replyForm = document.getElementById("reply-form");
const replyText = document.getElementById("reply-text");
const replyLength = watchLength(t, replyText, document.getElementById("count-reply-text"));
const replyButton = document.getElementById("reply-button");
const replyError = document.getElementById("reply-error");
const fileInput = document.getElementById("reply-files");
const fileList = document.getElementById("reply-file-list");
const questions = new Map(
  data.channels.flatMap((channel) => channel.questionnaire.map((q) => [q.id, q.label])),
);
let worker = null;
let busy = null;
let sealedChosen = false;

// --- refusing, explaining ---

function refuse(reason) {
  loginButton.disabled = true;
  show("status-checking", false);
  if (reason === "no_wasm") {
    explainNoWasm();
    return;
  }
  setText("refused-reason", t(`js.refused.${reason}`));
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
  // The reporter read what the server-sealed follow-up means and chose it: the form posts the
  // code as plain HTML from now on, exactly as it does with JavaScript turned off.
  sealedChosen = true;
  show("no-wasm", false);
  loginForm.hidden = false;
  loginButton.textContent = t("js.sealed.open");
  loginButton.disabled = false;
  show("sealed-chosen");
  codeInput.focus();
}

// --- progress ---

const STAGES = ["key", "work", "login", "read", "upload", "send", "retry"];

function startProgress(kind) {
  busy = kind;
  show("progress-panel");
  setText("progress-heading", t(`js.follow.progress.${kind}`));
  updateProgress(kind === "open" ? "key" : "send", 0);
}

function stopProgress() {
  busy = null;
  show("progress-panel", false);
}

function updateProgress(stage, fraction) {
  if (!busy) return;
  const bar = document.getElementById("progress-bar");
  const index = Math.max(0, STAGES.indexOf(stage));
  bar.value = Math.round(Math.min(0.99, (index + fraction) / STAGES.length) * 100);
  bar.textContent = `${bar.value} %`;
  const text = t(`js.follow.stage.${stage}`);
  const status = document.getElementById("progress-text");
  if (status.textContent !== text) status.textContent = text;
}

// --- logging in ---

function failedText(reason) {
  return t.first([`js.follow.failed.${reason}`, `js.failed.${reason}`]);
}

function showFieldError(message) {
  const error = document.getElementById("err-code");
  error.textContent = message;
  error.hidden = false;
  codeInput.setAttribute("aria-invalid", "true");
  codeInput.focus();
}

function clearLoginErrors() {
  document.getElementById("err-code").hidden = true;
  codeInput.removeAttribute("aria-invalid");
  loginError.hidden = true;
}

function onLogin(event) {
  if (sealedChosen) return;
  event.preventDefault();
  if (busy || !worker) return;
  clearLoginErrors();
  if (!codeInput.value.trim()) {
    showFieldError(t("js.follow.code_required"));
    return;
  }
  codeInput.disabled = true;
  loginButton.disabled = true;
  startProgress("open");
  worker.postMessage({ type: "open", code: codeInput.value });
}

function loginFailed(reason, detail) {
  stopProgress();
  codeInput.disabled = false;
  loginButton.disabled = false;
  if (reason === "typo") {
    showFieldError(t(`js.code.typo.${detail}`));
    return;
  }
  loginError.textContent = failedText(reason);
  loginError.hidden = false;
  loginError.focus();
}

// --- the thread ---

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function fact(list, term, value) {
  list.append(element("dt", null, term), element("dd", null, value));
}

// The status, outcome and days shown are the ones a committee member signed; the server's
// fields appear only where nothing signed says otherwise (the day of receipt before the
// acknowledgement, the deadlines), and every disagreement is listed among the problems.
function showFacts(thread) {
  const c = thread.case;
  const signed = thread.signed;
  const list = document.getElementById("case-facts");
  list.replaceChildren();
  const status = t(`js.status.${signed.status}`);
  fact(
    list,
    t("js.follow.facts.status"),
    signed.outcome ? `${status} (${t(`js.outcome.${signed.outcome}`)})` : status,
  );
  fact(list, t("js.follow.facts.received"), signed.received_on || c.received_on);
  if (signed.acknowledged_on) {
    fact(list, t("js.follow.facts.acknowledged"), signed.acknowledged_on);
  } else {
    fact(list, t("js.follow.facts.ack_due"), c.ack_due_on);
  }
  if (signed.status === "closed") fact(list, t("js.follow.facts.closed"), signed.changed_on);
  else fact(list, t("js.follow.facts.feedback_due"), signed.feedback_due || c.feedback_due_on);
  // A deadline that passed without the signed acknowledgement, or without feedback, is said
  // plainly: that is when the reporter may turn to the authorities (Directive Art. 10).
  const ackPassed = !thread.acknowledged && c.today > c.ack_due_on;
  const feedbackPassed = !ackPassed && c.feedback_overdue && signed.status !== "closed";
  show("ack-advice", !thread.acknowledged && !ackPassed);
  if (!thread.acknowledged) setText("ack-advice", t("js.follow.ack_advice", { day: c.ack_due_on }));
  show("deadline-passed", ackPassed || feedbackPassed);
  if (ackPassed) setText("deadline-passed", t("js.follow.ack_passed", { day: c.ack_due_on }));
  if (feedbackPassed) {
    setText("deadline-passed", t("js.follow.feedback_passed", { day: c.feedback_due_on }));
  }
}

function problemText(problem) {
  return t(`js.problem.${problem.code}`, { n: problem.seq, expected: problem.expected });
}

function showProblems(thread) {
  const list = document.getElementById("problem-list");
  list.replaceChildren(...thread.problems.map((p) => element("li", null, problemText(p))));
  show("thread-problems", thread.problems.length > 0);
}

function senderLine(item) {
  if (item.mine) return t("js.follow.from_you");
  if (item.role === "member") return t("js.follow.from_member", { name: item.sender });
  if (item.role === "archive") return t("js.follow.from_archive", { name: item.sender });
  if (item.role === "former") return t("js.follow.from_former");
  return t("js.follow.from_unknown");
}

function headingOf(item) {
  if (item.kind === "report") return t("js.follow.kind.report");
  if (item.kind === "status") {
    const status = t(`js.status.${item.status}`);
    return item.outcome
      ? t("js.follow.kind.status_outcome", { status, outcome: t(`js.outcome.${item.outcome}`) })
      : t("js.follow.kind.status", { status });
  }
  if (item.kind === "epoch") return t("js.follow.kind.epoch");
  return t("js.follow.kind.message");
}

function filesOf(item) {
  const list = element("ul", "files");
  for (const file of item.files) {
    list.append(
      element(
        "li",
        null,
        file.malformed
          ? t("js.follow.file_malformed")
          : t("js.files.item", { name: file.name, size: formatSize(t, file.size) }),
      ),
    );
  }
  return list;
}

function renderItem(item) {
  const classes = ["entry", item.mine ? "mine" : "theirs"];
  if (!item.verified) classes.push("unverified");
  const entry = element("li", classes.join(" "));
  entry.dataset.seq = String(item.seq);
  entry.dataset.kind = item.kind;
  const head = element("p", "entry-head");
  head.append(
    element("strong", null, headingOf(item)),
    document.createTextNode(" "),
    element("span", "hint", t("js.follow.meta", { n: item.seq, from: senderLine(item) })),
  );
  entry.append(head);
  if (!item.verified) {
    const why = item.problem ? t(`js.problem.${item.problem}`, { n: item.seq }) : "";
    entry.append(element("p", "field-error", t("js.follow.not_verified", { why })));
  }
  if (item.text !== null && item.kind !== "epoch") {
    const text = element("p", "entry-text", item.text);
    text.dir = "auto";
    entry.append(text);
  }
  if (item.redactedOn !== null) {
    entry.append(element("p", "hint redacted", t("js.follow.redacted", { day: item.redactedOn })));
  }
  if (item.kind === "epoch" && item.verified) {
    entry.append(element("p", "hint", t("js.follow.epoch_explained")));
  }
  if (item.answers) {
    const answers = element("dl", "answers");
    for (const [id, answer] of Object.entries(item.answers)) {
      const value = element("dd", null, typeof answer === "string" ? answer : JSON.stringify(answer));
      value.dir = "auto";
      answers.append(element("dt", null, questions.get(id) || id), value);
    }
    if (answers.children.length) entry.append(answers);
  }
  if (item.files.length) entry.append(filesOf(item));
  return entry;
}

function showThread(thread) {
  stopProgress();
  codeInput.value = "";
  codeInput.disabled = false;
  loginForm.hidden = true;
  show("intro", false);
  showFacts(thread);
  showProblems(thread);
  document.getElementById("thread").replaceChildren(...thread.items.map(renderItem));
  show("thread-panel");
  // No answer to a thread that does not verify, nor while the case waits to be re-keyed (an
  // answer written meanwhile stays in the hidden form).
  const blocked = thread.problems.length > 0;
  const held = !blocked && thread.held;
  show("reply-blocked", blocked);
  show("reply-held", held);
  replyForm.hidden = blocked || held;
}

// --- answering ---

function onReply(event) {
  event.preventDefault();
  if (busy || !worker) return;
  replyError.hidden = true;
  setText("sent-note", "");
  const error = document.getElementById("err-reply-text");
  error.hidden = true;
  replyText.removeAttribute("aria-invalid");
  if (!replyText.value.trim()) {
    error.textContent = t("js.follow.reply_empty");
    error.hidden = false;
    replyText.setAttribute("aria-invalid", "true");
    replyText.focus();
    return;
  }
  const tooLong = replyLength.tooLong();
  if (tooLong) {
    error.textContent = t("js.error.reply_too_long", tooLong);
    error.hidden = false;
    replyText.setAttribute("aria-invalid", "true");
    replyText.focus();
    return;
  }
  lockReply(true);
  startProgress("reply");
  worker.postMessage({ type: "reply", text: replyText.value, files: chosenFiles(fileInput) });
}

function lockReply(locked) {
  for (const control of replyForm.querySelectorAll("textarea, input, button")) {
    control.disabled = locked;
  }
}

function replied(message) {
  lockReply(false);
  showThread(message.thread);
  if (message.sent) {
    replyText.value = "";
    replyText.dispatchEvent(new Event("input"));
    fileInput.value = "";
    listFiles(t, fileInput, fileList);
    setText("sent-note", t("js.follow.sent"));
    document.getElementById("thread-heading").focus();
    return;
  }
  if (replyForm.hidden) {
    document.getElementById(message.thread.held ? "reply-held" : "reply-blocked").focus();
    return;
  }
  replyError.textContent = t(`js.follow.not_sent.${message.reason}`);
  replyError.hidden = false;
  replyError.focus();
}

function replyFailed(reason) {
  stopProgress();
  lockReply(false);
  replyError.textContent = failedText(reason);
  replyError.hidden = false;
  replyError.focus();
}

// --- leaving ---

function leave() {
  if (!worker) {
    window.location.assign("/");
    return;
  }
  worker.postMessage({ type: "leave" });
}

function left() {
  if (worker) worker.terminate();
  worker = null;
  replyText.value = "";
  document.getElementById("thread").replaceChildren();
  window.location.assign("/");
}

function onWorkerMessage(event) {
  const message = event.data;
  if (message.type === "ready") {
    show("status-checking", false);
    setText("pin-shown", message.fingerprint);
    show("pin-line");
    loginButton.disabled = false;
  } else if (message.type === "refused") {
    refuse(message.reason);
  } else if (message.type === "progress") {
    updateProgress(message.stage, message.fraction);
  } else if (message.type === "thread") {
    showThread(message.thread);
    document.getElementById("thread-heading").focus();
  } else if (message.type === "replied") {
    replied(message);
  } else if (message.type === "left") {
    left();
  } else if (message.type === "failed") {
    if (busy === "reply") replyFailed(message.reason);
    else loginFailed(message.reason, message.detail);
  }
}

function start() {
  loginForm.noValidate = true;
  loginForm.addEventListener("submit", onLogin);
  replyForm.addEventListener("submit", onReply);
  document.getElementById("use-sealed").addEventListener("click", chooseServerSealed);
  document.getElementById("leave-button").addEventListener("click", leave);
  fileInput.addEventListener("change", () => listFiles(t, fileInput, fileList));
  window.addEventListener("beforeunload", (event) => {
    if (busy || replyText.value.trim()) event.preventDefault();
  });
  loginButton.disabled = true;
  if (!wasmAvailable()) {
    loginForm.hidden = true;
    explainNoWasm();
    return;
  }
  loginForm.hidden = false;
  // Only now, with the keys derived on this device, is "the code never leaves this device" true.
  show("intro-e2e");
  show("status-checking");
  worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: "safevoice" });
  worker.addEventListener("message", onWorkerMessage);
  worker.addEventListener("error", () => refuse("broken"));
  worker.postMessage({ type: "start-follow-up", followUp: data });
}

start();

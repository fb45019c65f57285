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
  N_,
  chosenFiles,
  failedText,
  formatDay,
  formatSize,
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
// The texts this page chooses by the worker's codes.
const OPENING_TEXTS = {
  open: N_("Opening your case"),
  reply: N_("Sending your answer"),
};

const STAGE_TEXTS = {
  key: N_("Deriving your keys from the code…"),
  work: N_("Solving the anti-spam puzzle…"),
  login: N_("Logging in…"),
  read: N_("Decrypting and checking the conversation…"),
  upload: N_("Encrypting and sending your files…"),
  send: N_("Encrypting and sending your answer…"),
  retry: N_("The server is not answering or cannot store messages at the moment. Your answer, already encrypted, is kept on this page and sent again automatically; it cannot arrive twice. Please keep this page open…"),
};

const FOLLOW_FAILED_TEXTS = {
  server: N_("The server refused. Nothing was sent; please try again later."),
  unreachable: N_("Your answer was not confirmed: the server could not be reached for several minutes. Nothing was lost: keep this page open and press the button again later; an answer that did arrive is recognised and not sent twice, and files continue where they stopped."),
};

const TYPO_TEXTS = {
  length: N_("A follow-up code has 25 characters, in five groups of five. Please check what you typed."),
  character: N_("The code contains a character that follow-up codes never use: only digits and letters, without I, L, O and U."),
  start: N_("This does not look like a follow-up code: please check its first character."),
  checksum: N_("The code has a typo. Please compare it with what you wrote down, character by character. Nothing was sent."),
};

const STATUS_TEXTS = {
  received: N_("Received"),
  acknowledged: N_("Acknowledged"),
  investigating: N_("Being investigated"),
  action_planned: N_("Corrective action planned"),
  closed: N_("Closed"),
};

const OUTCOME_TEXTS = {
  substantiated: N_("substantiated"),
  not_substantiated: N_("not substantiated"),
  out_of_scope: N_("out of scope"),
  no_action_needed: N_("no action needed"),
};

const PROBLEM_TEXTS = {
  moved: N_("Message #%(n)s belongs to another case or to another place in this conversation."),
  replayed: N_("Message #%(n)s repeats a message already shown (a replay)."),
  missing_before: N_("Messages are missing before message #%(n)s."),
  reordered: N_("Message #%(n)s does not follow the message before it: messages were reordered or replaced."),
  not_report: N_("Message #%(n)s is out of place: only the first message of a case is its report."),
  future_epoch: N_("Message #%(n)s claims a key change that has not happened."),
  no_key_for_part: N_("Message #%(n)s uses a key you were never given."),
  unknown_sender: N_("Message #%(n)s names a sender who is not on the committee."),
  bad_signature: N_("Message #%(n)s is not signed by the person it names as its sender."),
  redaction_invalid: N_("Message #%(n)s was replaced by a version that no committee member's signed redaction covers: it may have been changed."),
  undecryptable: N_("Message #%(n)s does not decrypt: it was changed."),
  malformed: N_("Message #%(n)s is malformed."),
  unreadable_content: N_("Message #%(n)s cannot be read: its content is not in SafeVoice's format."),
  older_epoch: N_("Message #%(n)s uses older keys than the message before it: it was added out of order."),
  epoch_out_of_place: N_("Message #%(n)s is out of place: a change of keys must come first among the messages under the new keys, and only once."),
  epoch_history: N_("The conversation before message #%(n)s (a change of keys) is not the one the committee verified when it changed the keys: messages were replaced or removed."),
  epoch_late: N_("Message #%(n)s comes after a change of keys but uses the older keys: it was slipped in afterwards."),
  epoch_version: N_("A change of keys claims an older list of committee members than the change before it: the history of your case was altered."),
  epoch_rollback: N_("Your case was encrypted under a newer list of committee members than the one the server shows now: the server may be showing an old list."),
  epoch_sender: N_("The committee's latest key change names a sender who is not on the committee."),
  epoch_invalid: N_("The committee's latest key change does not verify."),
  epoch_missing: N_("The record of the committee's latest key change is missing, so earlier messages cannot be read."),
  epoch_outsider: N_("A key change gave access to your case to someone you did not choose."),
  not_yours: N_("The report in this conversation was not written with your code."),
  no_report: N_("This conversation does not start with your report."),
  unsigned_ack: N_("The server says your report was acknowledged, but no committee member signed an acknowledgement. Treat your report as not acknowledged."),
  status_unsigned: N_("The server shows your case with another status than the last one a committee member signed. The status shown here is the signed one."),
  received_unsigned: N_("The server shows another day of receipt than the one the committee signed (the one on your receipt). The day shown here is the signed one; deadlines the server computed from its own day may be wrong."),
  feedback_unsigned: N_("The server shows another feedback deadline than the one the committee promised you in a signed message. The deadline shown here is the signed one."),
  status_invalid: N_("Message #%(n)s is a signed status change that names no status SafeVoice knows."),
  received_conflict: N_("Message #%(n)s is a signed status change that names another day of receipt than an earlier one."),
  intake_conflict: N_("Message #%(n)s is a signed status change that names another way your report was received than an earlier one."),
};

const NOT_SENT_TEXTS = {
  changed: N_("New messages arrived while you were writing; please read them. Your answer is still below: press the button again when you are ready."),
  held: N_("Your answer was not sent: the committee is renewing the keys of your case. Please try again later; your answer is still below."),
};

// A status or outcome the catalogue has no word for is shown as it is.
function statusText(status) {
  return status in STATUS_TEXTS ? t(STATUS_TEXTS[status]) : String(status);
}

function outcomeText(outcome) {
  return outcome in OUTCOME_TEXTS ? t(OUTCOME_TEXTS[outcome]) : String(outcome);
}

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
  // The reporter read what the server-sealed follow-up means and chose it: the form posts the
  // code as plain HTML from now on, exactly as it does with JavaScript turned off.
  sealedChosen = true;
  show("no-wasm", false);
  loginForm.hidden = false;
  loginButton.textContent = t("Open my case (the server decrypts it)");
  loginButton.disabled = false;
  show("sealed-chosen");
  codeInput.focus();
}

// --- progress ---

const STAGES = ["key", "work", "login", "read", "upload", "send", "retry"];

function startProgress(kind) {
  busy = kind;
  show("progress-panel");
  setText("progress-heading", t(OPENING_TEXTS[kind]));
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
  const text = t(STAGE_TEXTS[stage] || "");
  const status = document.getElementById("progress-text");
  if (status.textContent !== text) status.textContent = text;
}

// --- logging in ---

function followFailedText(reason) {
  return reason in FOLLOW_FAILED_TEXTS ? t(FOLLOW_FAILED_TEXTS[reason]) : failedText(t, reason);
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
    showFieldError(t("Please type your follow-up code."));
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
    showFieldError(t(TYPO_TEXTS[detail] || TYPO_TEXTS.checksum));
    return;
  }
  loginError.textContent = followFailedText(reason);
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
  const status = statusText(signed.status);
  fact(
    list,
    t("Status"),
    signed.outcome
      ? t("%(status)s (%(outcome)s)", { status, outcome: outcomeText(signed.outcome) })
      : status,
  );
  fact(list, t("Received on"), formatDay(signed.received_on || c.received_on));
  if (signed.acknowledged_on) {
    fact(list, t("Acknowledged on (signed by the committee)"), formatDay(signed.acknowledged_on));
  } else {
    fact(list, t("Acknowledgement due by"), formatDay(c.ack_due_on));
  }
  if (signed.status === "closed") fact(list, t("Closed on"), formatDay(signed.changed_on));
  else fact(list, t("Feedback due by"), formatDay(signed.feedback_due || c.feedback_due_on));
  // A deadline that passed without the signed acknowledgement, or without feedback, is said
  // plainly: that is when the reporter may turn to the authorities (Directive Art. 10).
  const ackPassed = !thread.acknowledged && c.today > c.ack_due_on;
  const feedbackPassed = !ackPassed && c.feedback_overdue && signed.status !== "closed";
  show("ack-advice", !thread.acknowledged && !ackPassed);
  if (!thread.acknowledged) setText("ack-advice", t("No committee member has signed an acknowledgement of your report yet. It is due by %(day)s; if none arrives by then, you may report to the competent authorities listed on the start page.", { day: formatDay(c.ack_due_on) }));
  show("deadline-passed", ackPassed || feedbackPassed);
  if (ackPassed) setText("deadline-passed", t("The acknowledgement was due by %(day)s and no committee member has signed one. You may now report to the competent authorities listed on the start page; you can still write here too.", { day: formatDay(c.ack_due_on) }));
  if (feedbackPassed) {
    setText("deadline-passed", t("Feedback was due by %(day)s and the committee has not yet told you what it is doing about your report. You may ask here, and you may report to the competent authorities listed on the start page.", { day: formatDay(c.feedback_due_on) }));
  }
}

function problemText(code, seq, expected = null) {
  return t(PROBLEM_TEXTS[code] || PROBLEM_TEXTS.malformed, { n: seq, expected });
}

function showProblems(thread) {
  const list = document.getElementById("problem-list");
  list.replaceChildren(...thread.problems.map((p) => element("li", null, problemText(p.code, p.seq, p.expected))));
  show("thread-problems", thread.problems.length > 0);
}

function senderLine(item) {
  if (item.mine) return t("from you");
  if (item.role === "member") return t("from %(name)s (committee)", { name: item.sender });
  if (item.role === "archive") return t("from the committee's archive key (%(name)s)", { name: item.sender });
  if (item.role === "former") return t("from a former committee member");
  return t("from someone who is not on the committee");
}

function headingOf(item) {
  if (item.kind === "report") return t("Your report");
  if (item.kind === "status") {
    const status = statusText(item.status);
    return item.outcome
      ? t("Status: %(status)s (%(outcome)s)", { status, outcome: outcomeText(item.outcome) })
      : t("Status: %(status)s", { status });
  }
  if (item.kind === "epoch") return t("Change of who can read your case");
  return t("Message");
}

function filesOf(item) {
  const list = element("ul", "files");
  for (const file of item.files) {
    list.append(
      element(
        "li",
        null,
        file.malformed
          ? t("A file whose description cannot be read.")
          : t("%(name)s (%(size)s)", { name: file.name, size: formatSize(t, file.size) }),
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
    element("span", "hint", t("#%(n)s · %(from)s", { n: item.seq, from: senderLine(item) })),
  );
  entry.append(head);
  if (!item.verified) {
    const why = item.problem ? problemText(item.problem, item.seq) : "";
    entry.append(element("p", "field-error", t("Not verified. %(why)s", { why })));
  }
  if (item.text !== null && item.kind !== "epoch") {
    const text = element("p", "entry-text", item.text);
    text.dir = "auto";
    entry.append(text);
  }
  if (item.redactedOn !== null) {
    entry.append(element("p", "hint redacted", t("Part of this message was removed by the committee on %(day)s.", { day: formatDay(item.redactedOn) })));
    if (item.filesRemoved > 0) {
      entry.append(element("p", "hint redacted", t("%(count)s attached file(s) removed by the committee on %(day)s.", { count: String(item.filesRemoved), day: formatDay(item.redactedOn) })));
    }
  }
  if (item.kind === "epoch" && item.verified) {
    entry.append(element("p", "hint", t("The committee changed the keys of your case, for example because someone stepped aside, left the committee or replaced their key. Only the members you chose who still serve can read it from now on.")));
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
    error.textContent = t("Please write your answer before sending; an empty message cannot be sent.");
    error.hidden = false;
    replyText.setAttribute("aria-invalid", "true");
    replyText.focus();
    return;
  }
  const tooLong = replyLength.tooLong();
  if (tooLong) {
    error.textContent = t("Your answer is %(over)s characters longer than this form accepts (%(max)s). Nothing was cut and nothing was sent: please shorten it, or split it into several answers.", tooLong);
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
    setText("sent-note", t("Your answer was encrypted and sent."));
    document.getElementById("thread-heading").focus();
    return;
  }
  if (replyForm.hidden) {
    document.getElementById(message.thread.held ? "reply-held" : "reply-blocked").focus();
    return;
  }
  replyError.textContent = t(NOT_SENT_TEXTS[message.reason] || NOT_SENT_TEXTS.changed);
  replyError.hidden = false;
  replyError.focus();
}

function replyFailed(reason) {
  stopProgress();
  lockReply(false);
  replyError.textContent = followFailedText(reason);
  replyError.hidden = false;
  replyError.focus();
}

// --- leaving ---

function leave() {
  if (!worker) {
    window.location.assign(startPage());
    return;
  }
  worker.postMessage({ type: "leave" });
}

function left() {
  if (worker) worker.terminate();
  worker = null;
  replyText.value = "";
  document.getElementById("thread").replaceChildren();
  window.location.assign(startPage());
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
  worker = takeWorker(new URL("./worker.js", import.meta.url), () => refuse("broken"));
  if (!worker) return;
  worker.addEventListener("message", onWorkerMessage);
  worker.postMessage({ type: "start-follow-up", followUp: data });
}

start();

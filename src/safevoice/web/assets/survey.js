// The survey page: answers on a scale of 1 to 5 and one optional free text, encrypted to the
// committee in the Web Worker (worker.js) and sent with a proof of work.
//
// The worker verifies the survey against its author's key in the committee-signed manifest;
// this script then shows the verified texts in place of what the server rendered, so a changed
// question cannot be answered unnoticed. Nothing is written to cookies or storage. Without
// WebAssembly it explains the choices and, where the operator enabled it, offers the
// server-sealed form after the person read what it means.
//
// Module rules kept for the release bundle (safevoice.web.bundle): one import, of ui.js, which
// the build puts in front of this script; the worker is named by one string literal (the
// relative URL of worker.js), which the build replaces with the hashed name of the bundled
// worker.

import {
  failedText,
  readJson,
  refusedText,
  setText,
  show,
  takeWorker,
  translator,
  wasmAvailable,
} from "./ui.js";

const t = translator(readJson("sv-strings"));
const data = readJson("sv-survey");
const form = document.getElementById("survey-form");
const surveyId = form.dataset.survey;
const serverSealedEnabled = form.dataset.serverSealed === "on";
const submitButton = document.getElementById("submit-button");
const formError = document.getElementById("form-error");
let worker = null;
let sealedChosen = false;
let sending = false;

function refuse(reason) {
  submitButton.disabled = true;
  show("status-checking", false);
  if (reason === "no_wasm") {
    show("no-wasm");
    show("no-wasm-sealed", serverSealedEnabled);
    document.getElementById("no-wasm-heading").focus();
    if (worker) worker.terminate();
    worker = null;
    return;
  }
  setText("refused-reason", refusedText(t, reason));
  show("refused");
  document.getElementById("refused-heading").focus();
}

function chooseServerSealed() {
  sealedChosen = true;
  show("no-wasm", false);
  form.hidden = false;
  submitButton.disabled = false;
  show("sealed-chosen");
  submitButton.focus();
}

// Show the texts the worker verified, not the ones the server put in the page.
function showVerified(survey) {
  setText("survey-title", survey.title);
  survey.questions.forEach((question, index) => setText(`legend-${index}`, question));
  const label = document.getElementById("free-text-label");
  if (label && survey.freeText !== null) label.textContent = survey.freeText;
  const rendered = form.querySelectorAll("fieldset.scale").length;
  return rendered === survey.questions.length && Boolean(label) === (survey.freeText !== null);
}

function collect() {
  const scores = Array.from(form.querySelectorAll("fieldset.scale")).map((fieldset) => {
    const chosen = fieldset.querySelector("input:checked");
    return chosen ? Number(chosen.value) : null;
  });
  const text = document.getElementById("free-text");
  return { scores, freeText: text ? text.value : "" };
}

function onMessage(event) {
  const message = event.data;
  if (message.type === "ready") {
    show("status-checking", false);
    const survey = message.surveys.find((s) => s.id === surveyId);
    if (!survey) {
      refuse("survey");
      return;
    }
    if (!showVerified(survey)) {
      refuse("survey");
      return;
    }
    form.hidden = false;
  } else if (message.type === "refused") {
    refuse(message.reason);
  } else if (message.type === "progress") {
    document.getElementById("progress-bar").value = Math.round(100 * (message.fraction || 0));
  } else if (message.type === "answered") {
    sending = false;
    show("progress-panel", false);
    form.hidden = true;
    form.reset();
    show("thanks-panel");
    document.getElementById("thanks-heading").focus();
  } else if (message.type === "failed") {
    sending = false;
    show("progress-panel", false);
    submitButton.disabled = false;
    formError.textContent = failedText(t, message.reason);
    formError.hidden = false;
    formError.focus();
  }
}

form.addEventListener("submit", (event) => {
  if (sealedChosen) return; // the person chose the server-sealed form: a plain post
  event.preventDefault();
  if (sending || !worker) return;
  sending = true;
  formError.hidden = true;
  submitButton.disabled = true;
  show("progress-panel");
  worker.postMessage({ type: "answer-survey", surveyId, ...collect() });
});

document.getElementById("use-sealed").addEventListener("click", chooseServerSealed);

if (!wasmAvailable()) {
  refuse("no_wasm");
} else {
  show("status-checking");
  worker = takeWorker(new URL("./worker.js", import.meta.url), () => refuse("no_wasm"));
  if (worker) {
    worker.onmessage = onMessage;
    worker.postMessage({ type: "start-survey", survey: data });
  }
}

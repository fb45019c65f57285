// The reporter page's Web Worker: everything secret happens here, off the page's main thread.
//
// It verifies the committee-signed manifest against the root fingerprint built into the
// release bundle before anything else, derives a fresh follow-up code's keys with Argon2id,
// solves the proof of work, encrypts the report to the manifest's members, sends it, and checks
// the instance's receipt. The page only ever gets back the follow-up code (after the server's
// 201), the receipt, progress and plain-language reasons for refusing. Nothing is stored: the
// code, the keys and the report live in this worker's memory until the page ends it.
//
// Module rules kept for the release bundle (safevoice.web.bundle): the three imports below are
// replaced by the bundle's own definitions; no other import.

import { createCrypto } from "./crypto.js";
import sodium from "./sodium.js";
import { ROOT_FINGERPRINT } from "./pin.js";

const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000];
const CHALLENGE_MARGIN_S = 60;

let sv = null;
let intake = null;
let manifest = null;
let prepared = null;

function post(message) {
  self.postMessage(message);
}

function progress(stage, fraction) {
  post({ type: "progress", stage, fraction });
}

function pause() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class Refusal extends Error {
  constructor(reason) {
    super(reason);
    this.reason = reason;
  }
}

async function loadSodium() {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.instantiate !== "function") {
    throw new Refusal("no_wasm");
  }
  try {
    await sodium.ready;
  } catch {
    throw new Refusal("no_wasm");
  }
  return createCrypto(sodium);
}

async function freshChallenge() {
  const response = await fetch("/api/v1/challenges", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ purpose: "submit" }),
    credentials: "omit",
    cache: "no-store",
    redirect: "error",
  });
  if (!response.ok) throw new Refusal("server");
  return (await response.json()).challenge;
}

// The follow-up code, its keys and a solved challenge do not depend on what the reporter
// writes, so they are prepared while the reporter is still writing.
async function prepare() {
  const kdf = sv.currentCodeKdf(manifest);
  const code = sv.generateCode(kdf.version);
  progress("key", 0);
  await pause();
  const keys = sv.deriveReporterKeys(sv.parseCode(code), {
    salt: manifest.instanceSalt,
    opslimit: kdf.opslimit,
    memlimit: kdf.memlimit,
  });
  progress("key", 1);
  const proof = await solve(intake.challenge);
  return { code, keys, proof };
}

async function solve(offered) {
  let token = offered.challenge;
  if (!token || offered.expires - CHALLENGE_MARGIN_S < Date.now() / 1000) {
    token = await freshChallenge();
  }
  const challenge = sv.parseChallenge(token);
  const expected = 2 ** challenge.difficulty;
  progress("work", 0);
  const solution = await solveSliced(challenge, (attempts) =>
    progress("work", Math.min(0.95, attempts / expected)),
  );
  progress("work", 1);
  return { challenge: token, solution };
}

// One attempt at a time, yielding between them so that messages from the page still arrive.
async function solveSliced(challenge, onAttempt) {
  const start = sodium.randombytes_buf(8);
  start[0] &= 0x7f;
  let counter = new DataView(start.buffer, start.byteOffset, 8).getBigUint64(0, false);
  for (let attempt = 1; ; attempt += 1) {
    const candidate = sv.u64(counter);
    if (sv.solves(challenge, candidate)) return sv.b64e(candidate);
    onAttempt(attempt);
    counter += 1n;
    if (attempt % 4 === 0) await pause();
  }
}

function idempotencyKey() {
  return sv.b64e(sodium.randombytes_buf(16));
}

async function send(body, key) {
  const text = JSON.stringify(body);
  for (let attempt = 0; ; attempt += 1) {
    let response = null;
    try {
      response = await fetch("/api/v1/cases", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": key },
        body: text,
        credentials: "omit",
        cache: "no-store",
        redirect: "error",
      });
    } catch {
      response = null;
    }
    if (response && response.status !== 503) return response;
    if (attempt >= RETRY_DELAYS_MS.length) throw new Refusal("unreachable");
    progress("retry", attempt / RETRY_DELAYS_MS.length);
    await sleep(RETRY_DELAYS_MS[attempt]);
  }
}

async function errorCode(response) {
  try {
    return (await response.json()).error.code;
  } catch {
    return "";
  }
}

function checkReceipt(answer, newCase) {
  const receipt = answer.receipt;
  const reportHash = sv.b64e(sv.transcriptHash(newCase.report));
  return (
    receipt &&
    sv.verifyReceipt(receipt, sv.receiptKey(manifest)) &&
    receipt.report_hash === reportHash &&
    receipt.instance_id === manifest.instanceId &&
    receipt.case_id === answer.case_id &&
    answer.case_id === sv.b64e(newCase.caseId) &&
    receipt.day === answer.received_on
  );
}

// A send that gave up (no answer, or only 503s) may still have been stored. Pressing the button
// again with the same report resends the identical request under the same idempotency key, so
// the server answers with the first case instead of making a second one (protocol 11.7).
let unanswered = null;

async function preparedOrAgain() {
  try {
    return await prepared;
  } catch {
    prepared = prepare();
    prepared.catch(() => {});
    return prepared;
  }
}

async function submit(report) {
  const wording = JSON.stringify(report);
  let attempt = unanswered && unanswered.wording === wording ? unanswered : null;
  if (!attempt) {
    if (unanswered) {
      // The report changed after an unanswered send: it gets a code of its own.
      prepared = prepare();
      prepared.catch(() => {});
    }
    const { code, keys, proof } = await preparedOrAgain();
    const newCase = sv.createCase(manifest, keys, report);
    progress("encrypt", 1);
    const body = { proof, case: sv.submissionCase(newCase, report.channel, keys) };
    attempt = { wording, code, newCase, body, key: idempotencyKey() };
  }
  progress("send", 0);
  unanswered = attempt;
  let response = await send(attempt.body, attempt.key);
  if (response.status === 400 && (await errorCode(response.clone())) === "challenge_rejected") {
    // The challenge ran out while the reporter was writing: solve a new one and send again.
    attempt.body = { ...attempt.body, proof: await solve({ challenge: "", expires: 0 }) };
    attempt.key = idempotencyKey();
    progress("send", 0);
    response = await send(attempt.body, attempt.key);
  }
  unanswered = null;
  if (response.status !== 201) {
    throw new Refusal(response.status === 413 ? "too_large" : "server");
  }
  const answer = await response.json();
  if (!checkReceipt(answer, attempt.newCase)) throw new Refusal("receipt");
  progress("send", 1);
  attempt.newCase.keys.thread.fill(0);
  attempt.newCase.keys.committee.fill(0);
  return { code: attempt.code, receivedOn: answer.received_on, receipt: answer.receipt };
}

async function start(data) {
  intake = data.intake;
  try {
    sv = await loadSodium();
  } catch (error) {
    post({ type: "refused", reason: error.reason || "no_wasm" });
    return;
  }
  try {
    manifest = sv.verifyManifest(intake.manifest, { pin: ROOT_FINGERPRINT, now: Date.now() });
  } catch (error) {
    const known = ["pin", "expired", "future"];
    post({ type: "refused", reason: known.includes(error.reason) ? error.reason : "manifest" });
    return;
  }
  post({
    type: "ready",
    fingerprint: sv.formatFingerprint(ROOT_FINGERPRINT),
    members: manifest.members.map((m) => ({ id: m.id, name: m.name })),
  });
  prepared = prepare();
  // A failure here is reported when the reporter sends, not while they are still writing.
  prepared.catch(() => {});
}

self.onmessage = async (event) => {
  const data = event.data || {};
  if (data.type === "start") {
    await start(data);
    return;
  }
  if (data.type === "submit") {
    if (!manifest || !prepared) {
      post({ type: "failed", reason: "not_ready" });
      return;
    }
    try {
      const result = await submit(data.report);
      post({ type: "done", ...result });
    } catch (error) {
      post({ type: "failed", reason: error instanceof Refusal ? error.reason : "internal" });
    }
  }
};

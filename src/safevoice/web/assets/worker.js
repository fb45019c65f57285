// The reporter pages' Web Worker: everything secret happens here, off the pages' main thread.
//
// Before anything else it verifies the committee-signed manifest against the root fingerprint
// built into the release bundle. On the report page it derives a fresh follow-up code's keys
// with Argon2id, solves the proof of work, encrypts the report and any attached files to the
// manifest's members, sends them, and checks the instance's receipt. On the follow-up page it
// derives the keys again from the code the reporter types, logs in by signing a challenge,
// reads and verifies the thread, and encrypts, signs and sends the reporter's answers. On the
// survey page it verifies each survey against its author's key in the manifest, encrypts an
// answer to the committee and sends it with a proof of work.
//
// The pages only ever get back what they show: the follow-up code (after the server's 201),
// the receipt, the verified and decrypted thread, progress, and plain-language reasons for
// refusing. Nothing is stored anywhere: the code, the keys, the session token and the texts
// live in this worker's memory until the page ends it. Files are read from the File object
// one chunk at a time, encrypted and sent; an upload cut off by the network resumes from the
// chunk in flight while the page stays open.
//
// Module rules kept for the release bundle (safevoice.web.bundle): the three imports below are
// replaced by the bundle's own definitions; no other import.

import { createCrypto } from "./crypto.js";
import sodium from "./sodium.js";
import { ROOT_FINGERPRINT } from "./pin.js";

// A report or an answer is resent (the same encrypted request) while the server is away or
// its storage is full, backing off to half a minute: about five minutes in all before the
// page says it was not confirmed and how to go on.
const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 15000, 30000, 30000, 30000, 30000, 30000, 30000, 30000, 30000, 30000];
const RETRIABLE = new Set([503, 507]);
const CHUNK_RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15000, 30000, 30000, 30000, 30000, 30000, 30000, 30000, 30000, 30000];
const CHALLENGE_MARGIN_S = 60;

let sv = null;
let manifest = null;

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
  constructor(reason, detail = null) {
    super(reason);
    this.reason = reason;
    this.detail = detail;
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

// Load libsodium.js and verify the manifest; tell the page whether it may go on.
async function verifyFirst(wire) {
  try {
    sv = await loadSodium();
  } catch (error) {
    post({ type: "refused", reason: error.reason || "no_wasm" });
    return false;
  }
  try {
    manifest = sv.verifyManifest(wire, { pin: ROOT_FINGERPRINT, now: Date.now() });
  } catch (error) {
    const known = ["pin", "expired", "future"];
    post({ type: "refused", reason: known.includes(error.reason) ? error.reason : "manifest" });
    return false;
  }
  return true;
}

// --- talking to the server: no cookies, no cache, no redirects ---

async function request(method, path, { json, bytes, token, headers = {} } = {}) {
  const init = {
    method,
    headers: { ...headers },
    credentials: "omit",
    cache: "no-store",
    redirect: "error",
  };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (bytes !== undefined) {
    init.headers["Content-Type"] = "application/octet-stream";
    init.body = bytes;
  }
  if (token) init.headers.Authorization = `Bearer ${token}`;
  try {
    return await fetch(path, init);
  } catch {
    return null;
  }
}

async function errorCode(response) {
  try {
    return (await response.json()).error.code;
  } catch {
    return "";
  }
}

async function freshChallenge(purpose) {
  const response = await request("POST", "/api/v1/challenges", { json: { purpose } });
  if (!response) throw new Refusal("unreachable");
  if (!response.ok) throw new Refusal("server");
  return (await response.json()).challenge;
}

async function solve(offered, purpose) {
  let token = offered && offered.challenge;
  if (!token || offered.expires - CHALLENGE_MARGIN_S < Date.now() / 1000) {
    token = await freshChallenge(purpose);
  }
  const challenge = sv.parseChallenge(token);
  const expected = 2 ** challenge.difficulty;
  progress("work", 0);
  const solution = await solveSliced(challenge, (attempts) =>
    progress("work", Math.min(0.95, attempts / expected)),
  );
  progress("work", 1);
  return { challenge: token, solution, parsed: challenge };
}

// One attempt at a time, yielding between them so that messages from the page still arrive.
async function solveSliced(challenge, onAttempt) {
  const start = sodium.randombytes_buf(8);
  start[0] &= 0x7f;
  let counter = new DataView(start.buffer, start.byteOffset, 8).getBigUint64(0, false);
  for (let attempt = 1; ; attempt += 1) {
    const candidate = sv.u64(counter);
    if (sv.counterWorks(challenge, candidate)) return sv.stampedSolution(challenge, candidate);
    onAttempt(attempt);
    counter += 1n;
    if (attempt % 4 === 0) await pause();
  }
}

function randomKey() {
  return sv.b64e(sodium.randombytes_buf(16));
}

// --- attached files: encrypted chunk by chunk, uploaded, resumed after a dropped connection ---
//
// An entry remembers how far its upload got: the upload id, the stream's encryptor, and the
// encrypted chunk in flight. Sending a chunk again that the server already stored is
// acknowledged (protocol: attachments), so a send that failed is simply repeated, and a later
// press of the button continues where the last one stopped.

function fileEntries(files) {
  return files.map((file) => ({ file }));
}

function sameFiles(entries, files) {
  return (
    entries.length === files.length &&
    entries.every(
      ({ file }, i) =>
        file.name === files[i].name &&
        file.size === files[i].size &&
        file.lastModified === files[i].lastModified &&
        file.type === files[i].type,
    )
  );
}

async function readChunk(file, begin, end) {
  try {
    return new Uint8Array(await file.slice(begin, end).arrayBuffer());
  } catch {
    throw new Refusal("file_unreadable");
  }
}

// Chunks and the finish need no session: the random upload id is the capability to add to
// that one upload, and nothing else.
async function putChunk(uploadId, index, data) {
  for (let attempt = 0; ; attempt += 1) {
    const path = `/api/v1/uploads/${uploadId}/chunks/${index}`;
    const response = await request("PUT", path, { bytes: data });
    if (response && response.ok) return;
    if (response && response.status === 413) throw new Refusal("file_too_large");
    if (response && response.status !== 503 && response.status < 500) throw new Refusal("server");
    if (attempt >= CHUNK_RETRY_DELAYS_MS.length) throw new Refusal("unreachable");
    progress("retry", attempt / CHUNK_RETRY_DELAYS_MS.length);
    await sleep(CHUNK_RETRY_DELAYS_MS[attempt]);
  }
}

async function finishUpload(uploadId, chunks) {
  for (let attempt = 0; ; attempt += 1) {
    const path = `/api/v1/uploads/${uploadId}/finish`;
    const response = await request("POST", path, { json: { chunks } });
    if (response && response.ok) return;
    if (response && response.status !== 503 && response.status < 500) throw new Refusal("server");
    if (attempt >= CHUNK_RETRY_DELAYS_MS.length) throw new Refusal("unreachable");
    await sleep(CHUNK_RETRY_DELAYS_MS[attempt]);
  }
}

async function uploadEntry(entry, { start, onBytes }) {
  if (entry.descriptor) return entry.descriptor;
  const file = entry.file;
  if (!entry.uploadId) {
    entry.uploadId = await start();
    entry.encryptor = sv.createFileEncryptor(entry.uploadId);
    entry.chunks = sv.fileChunkCount(file.size);
    entry.pending = null;
  }
  while (entry.pending || entry.encryptor.chunksDone < entry.chunks) {
    if (!entry.pending) {
      const index = entry.encryptor.chunksDone;
      const begin = index * sv.FILE_CHUNK_PLAINTEXT;
      const last = index === entry.chunks - 1;
      const plain = await readChunk(file, begin, last ? file.size : begin + sv.FILE_CHUNK_PLAINTEXT);
      if (plain.length !== (last ? file.size - begin : sv.FILE_CHUNK_PLAINTEXT)) {
        throw new Refusal("file_unreadable");
      }
      entry.pending = { index, data: entry.encryptor.push(plain, last), bytes: plain.length };
      plain.fill(0);
    }
    await putChunk(entry.uploadId, entry.pending.index, entry.pending.data);
    onBytes(entry.pending.bytes);
    entry.pending = null;
  }
  await finishUpload(entry.uploadId, entry.chunks);
  entry.descriptor = {
    upload_id: entry.uploadId,
    key: sv.b64e(entry.encryptor.key),
    header: sv.b64e(entry.encryptor.header),
    name: file.name,
    type: file.type || "application/octet-stream",
    size: file.size,
    chunks: entry.chunks,
  };
  entry.encryptor.key.fill(0);
  return entry.descriptor;
}

// Upload every file in turn; their descriptors go into the report or message.
async function uploadAll(entries, start) {
  const total = entries.reduce((sum, e) => sum + e.file.size, 0) || 1;
  let sent = entries.reduce((sum, e) => sum + (e.descriptor ? e.file.size : 0), 0);
  const onBytes = (bytes) => {
    sent += bytes;
    progress("upload", Math.min(1, sent / total));
  };
  const descriptors = [];
  progress("upload", sent / total);
  for (const entry of entries) descriptors.push(await uploadEntry(entry, { start, onBytes }));
  return descriptors;
}

// A start whose answer is lost is sent again under the same idempotency key, so the server
// makes one upload however many times the request arrives (protocol: attachments).
async function startUpload(body, token = null) {
  const headers = { "Idempotency-Key": randomKey() };
  for (let attempt = 0; ; attempt += 1) {
    const response = await request("POST", "/api/v1/uploads", { json: body, token, headers });
    if (response && response.status === 401 && token) throw new Refusal("session");
    if (response && response.ok) return (await response.json()).id;
    if (response && response.status !== 503 && response.status < 500) throw new Refusal("server");
    if (attempt >= CHUNK_RETRY_DELAYS_MS.length) throw new Refusal("unreachable");
    progress("retry", attempt / CHUNK_RETRY_DELAYS_MS.length);
    await sleep(CHUNK_RETRY_DELAYS_MS[attempt]);
  }
}

// =============================================================================================
// The report page
// =============================================================================================

let intake = null;
let prepared = null;

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
  const { challenge, solution } = await solve(intake.challenge, "submit");
  return { code, keys, proof: { challenge, solution } };
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
    if (response && !RETRIABLE.has(response.status)) return response;
    if (attempt >= RETRY_DELAYS_MS.length) throw new Refusal("unreachable");
    progress("retry", attempt / RETRY_DELAYS_MS.length);
    await sleep(RETRY_DELAYS_MS[attempt]);
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

// A send that gave up (no answer, only 503s, or an upload cut off) may still have been stored,
// or half uploaded. Pressing the button again with the same report and files continues the
// same attempt: uploads resume, and the report is resent as the identical request under the
// same idempotency key, so the server answers with the first case instead of making a second
// one (protocol 11.7).
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

// Each file of a report not yet submitted costs its own proof of work (there is no case, and
// so no session, to attach it to yet).
async function startNewCaseUpload(caseId) {
  const proof = await solve(null, "upload");
  const { challenge, solution } = proof;
  return startUpload({ case_id: caseId, proof: { challenge, solution } });
}

async function submit(report, files) {
  const wording = JSON.stringify(report);
  let attempt =
    unanswered && unanswered.wording === wording && sameFiles(unanswered.files, files)
      ? unanswered
      : null;
  if (!attempt) {
    if (unanswered) {
      // The report changed after an unanswered send: it gets a code (and case) of its own.
      prepared = prepare();
      prepared.catch(() => {});
    }
    const { code, keys, proof } = await preparedOrAgain();
    attempt = { wording, code, keys, proof, caseId: sv.newCaseId(), files: fileEntries(files) };
  }
  unanswered = attempt;
  if (!attempt.body) {
    const caseId = sv.b64e(attempt.caseId);
    const attachments = attempt.files.length
      ? await uploadAll(attempt.files, () => startNewCaseUpload(caseId))
      : [];
    const newCase = sv.createCase(manifest, attempt.keys, {
      ...report,
      attachments,
      caseId: attempt.caseId,
    });
    progress("encrypt", 1);
    const uploads = attachments.map((a) => a.upload_id);
    attempt.newCase = newCase;
    attempt.body = {
      proof: attempt.proof,
      case: sv.submissionCase(newCase, report.channel, attempt.keys, uploads),
    };
    attempt.key = randomKey();
  }
  progress("send", 0);
  let response = await send(attempt.body, attempt.key);
  if (response.status === 400 && (await errorCode(response.clone())) === "challenge_rejected") {
    // The challenge ran out while the reporter was writing: solve a new one and send again.
    const { challenge, solution } = await solve(null, "submit");
    attempt.body = { ...attempt.body, proof: { challenge, solution } };
    attempt.key = randomKey();
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
  return {
    code: attempt.code,
    receivedOn: answer.received_on,
    ackDueOn: answer.ack_due_on,
    feedbackDueOn: answer.feedback_due_on,
    receipt: answer.receipt,
  };
}

async function startReport(data) {
  intake = data.intake;
  if (!(await verifyFirst(intake.manifest))) return;
  post({
    type: "ready",
    fingerprint: sv.formatFingerprint(ROOT_FINGERPRINT),
    members: manifest.members.map((m) => ({ id: m.id, name: m.name })),
  });
  prepared = prepare();
  // A failure here is reported when the reporter sends, not while they are still writing.
  prepared.catch(() => {});
}

// =============================================================================================
// The follow-up page
// =============================================================================================

let followData = null;
// { keys, token, read, view }: the reporter's session, in this worker's memory only.
let session = null;
let unsentReply = null;

function wipeSession() {
  if (!session) return;
  session.keys.replySecret.fill(0);
  session.keys.signSeed.fill(0);
  if (session.read) session.read.threadKey.fill(0);
  session = null;
  unsentReply = null;
}

async function logIn() {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const offered = followData.challenge;
    followData.challenge = null;
    const proof = await solve(offered, "reporter-login");
    progress("login", 0);
    const response = await request("POST", "/api/v1/reporter/login", {
      json: {
        sign_key: sv.b64e(session.keys.signPublic),
        challenge: proof.challenge,
        solution: proof.solution,
        signature: sv.b64e(
          sv.loginSignature(session.keys.signSeed, manifest.instanceId, proof.parsed),
        ),
      },
    });
    if (!response) throw new Refusal("unreachable");
    if (response.status === 401) throw new Refusal("wrong_code");
    if (response.status === 400 && (await errorCode(response.clone())) === "challenge_rejected") {
      continue; // expired or already used: solve a fresh one
    }
    if (!response.ok) throw new Refusal("server");
    session.token = (await response.json()).token;
    progress("login", 1);
    return;
  }
  throw new Refusal("server");
}

// A request with the session token; an expired session is opened again once, with the keys
// still in memory (sessions last 20 minutes, a reporter may write for longer).
async function withSession(method, path, options = {}) {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const response = await request(method, path, { ...options, token: session.token });
    if (!response) throw new Refusal("unreachable");
    if (response.status !== 401 || attempt === 1) return response;
    await logIn();
  }
  throw new Refusal("server");
}

function describedFiles(body) {
  return (Array.isArray(body.attachments) ? body.attachments : []).map((described) => {
    try {
      return sv.parseAttachment(described);
    } catch {
      return { malformed: true };
    }
  });
}

// What the page shows: the case's status and deadlines, every object of the thread in order
// with whether it verified, the problems found, and whether the case waits to be re-keyed
// (held) before the reporter may write. No key and no code.
function display(read, view) {
  const answers = read.report ? read.report.answers : {};
  const c = view.case;
  return {
    case: {
      status: c.status,
      received_on: c.received_on,
      ack_due_on: c.ack_due_on,
      acknowledged_on: c.acknowledged_on,
      feedback_due_on: c.feedback_due_on,
      closed_on: c.closed_on,
      today: c.today,
      feedback_overdue: c.feedback_overdue,
    },
    // What a committee member signed; the page shows these rather than the server's fields.
    signed: {
      status: read.signed.status,
      outcome: read.signed.outcome,
      acknowledged_on: read.signed.acknowledgedOn,
      changed_on: read.signed.changedOn,
      received_on: read.signed.receivedOn,
      feedback_due: read.signed.feedbackDue,
    },
    problems: read.problems,
    acknowledged: read.acknowledged,
    held: read.heldBy.length > 0,
    items: read.objects.map((o) => {
      const files = o.verified ? describedFiles(o.body) : [];
      return {
        seq: o.seq,
        kind: o.kind,
        mine: o.sender === "reporter",
        sender: o.senderName,
        role: o.senderRole,
        verified: o.verified,
        problem: o.problem,
        redactedOn: o.redacted ? o.redacted.on : null,
        filesRemoved: o.redacted ? o.redacted.filesRemoved : 0,
        text: typeof o.body.text === "string" ? o.body.text : null,
        status: typeof o.body.status === "string" ? o.body.status : null,
        outcome: typeof o.body.outcome === "string" ? o.body.outcome : null,
        on: typeof o.body.on === "string" ? o.body.on : null,
        answers: o.kind === "report" ? answers : null,
        files,
      };
    }),
  };
}

async function loadThread() {
  progress("read", 0);
  const response = await withSession("GET", "/api/v1/reporter/case");
  if (!response.ok) throw new Refusal("server");
  const view = await response.json();
  let read;
  try {
    read = sv.readThread(view, session.keys, manifest);
  } catch (error) {
    if (error instanceof sv.SafeVoiceCryptoError) throw new Refusal("unreadable");
    throw error;
  }
  if (session.read) session.read.threadKey.fill(0);
  session.read = read;
  session.view = view;
  progress("read", 1);
  return display(read, view);
}

async function openCase(codeText) {
  wipeSession();
  let parsed;
  try {
    parsed = sv.parseCode(codeText);
  } catch (error) {
    throw new Refusal("typo", error.detail || "checksum");
  }
  const kdf = sv.codeKdfFor(manifest, parsed.version);
  if (!kdf) throw new Refusal("old_code");
  progress("key", 0);
  await pause();
  const keys = sv.deriveReporterKeys(parsed, {
    salt: manifest.instanceSalt,
    opslimit: kdf.opslimit,
    memlimit: kdf.memlimit,
  });
  progress("key", 1);
  session = { keys, token: null, read: null, view: null };
  try {
    await logIn();
    return await loadThread();
  } catch (error) {
    wipeSession();
    throw error;
  }
}

function sealReply(plaintext) {
  const read = session.read;
  return sv.sealEnvelope(read.threadKey, plaintext, {
    caseId: read.caseId,
    kind: "message",
    sender: "reporter",
    seq: read.head.seq + 1,
    prev: read.head.hash,
    epoch: read.epoch,
    signSeed: session.keys.signSeed,
  });
}

// Send the reporter's answer as the next object of the thread the reporter just read. A
// thread that does not verify gets no answer, and neither does a case whose keys someone
// removed from the committee may still hold: the reporter is told why instead.
async function reply(text, files) {
  if (!session || !session.read) throw new Refusal("session");
  if (!text.trim()) throw new Refusal("empty");
  if (session.read.problems.length) throw new Refusal("unverified");
  if (session.read.heldBy.length) throw new Refusal("held");
  const wording = text;
  if (!unsentReply || unsentReply.wording !== wording || !sameFiles(unsentReply.files, files)) {
    unsentReply = { wording, files: fileEntries(files) };
  }
  const caseId = session.view.case.id;
  const attachments = unsentReply.files.length
    ? await uploadAll(unsentReply.files, async () => {
        try {
          return await startUpload({ case_id: caseId }, session.token);
        } catch (error) {
          if (error.reason !== "session") throw error;
          await logIn();
          return startUpload({ case_id: caseId }, session.token);
        }
      })
    : [];
  const plaintext = sv.messagePlaintext(text, attachments);
  const envelope = sealReply(plaintext);
  plaintext.fill(0);
  progress("send", 0);
  const body = {
    envelope: sv.envelopeToJson(envelope),
    uploads: attachments.map((a) => a.upload_id),
  };
  const mine = sv.b64e(sv.transcriptHash(envelope));
  let response = null;
  for (let attempt = 0; ; attempt += 1) {
    try {
      response = await withSession("POST", "/api/v1/reporter/objects", { json: body });
    } catch (error) {
      if (error.reason !== "unreachable" || attempt >= RETRY_DELAYS_MS.length) throw error;
      response = null;
    }
    if (response && !RETRIABLE.has(response.status)) break;
    if (attempt >= RETRY_DELAYS_MS.length) throw new Refusal("unreachable");
    progress("retry", attempt / RETRY_DELAYS_MS.length);
    await sleep(RETRY_DELAYS_MS[attempt]);
  }
  if (response.status === 201) {
    unsentReply = null;
    const thread = await loadThread();
    progress("send", 1);
    return { thread, sent: true };
  }
  if (response.status === 409) {
    // Someone wrote in the meantime, or an earlier send of this very answer arrived after
    // all: read the thread again and let the reporter see it before answering. With the
    // thread unchanged, the case waits to be re-keyed (protocol 11.9): the server refuses
    // every message until then, with a sentence this page words from its own catalogue.
    const before = session.read.head.seq;
    const thread = await loadThread();
    if (session.read.objects.some((o) => o.verified && sv.b64e(o.hash) === mine)) {
      unsentReply = null;
      return { thread, sent: true };
    }
    return { thread, sent: false, reason: session.read.head.seq !== before ? "changed" : "held" };
  }
  throw new Refusal(response.status === 413 ? "too_large" : "server");
}

async function leave() {
  if (session && session.token) {
    await request("POST", "/api/v1/logout", { token: session.token });
  }
  wipeSession();
}

async function startFollowUp(data) {
  followData = data.followUp;
  if (!(await verifyFirst(followData.manifest))) return;
  post({ type: "ready", fingerprint: sv.formatFingerprint(ROOT_FINGERPRINT) });
}

// =============================================================================================
// The survey page
// =============================================================================================

let surveyData = null;
let surveys = null;

async function startSurvey(data) {
  surveyData = data.survey;
  if (!(await verifyFirst(surveyData.manifest))) return;
  // Only surveys that a committee member of the verified manifest signed are shown; the page
  // takes every text it shows from here, not from what the server rendered.
  surveys = [];
  for (const listed of surveyData.surveys) {
    try {
      const survey = sv.verifySurvey(listed.document, manifest);
      if (survey.surveyId === listed.survey_id) surveys.push(survey);
    } catch {
      // A forged survey is left out.
    }
  }
  post({
    type: "ready",
    fingerprint: sv.formatFingerprint(ROOT_FINGERPRINT),
    surveys: surveys.map((s) => ({
      id: s.surveyId,
      title: s.title,
      questions: s.questions,
      freeText: s.freeText,
    })),
  });
}

async function answerSurvey({ surveyId, scores, freeText }) {
  const survey = (surveys || []).find((s) => s.surveyId === surveyId);
  if (!survey) throw new Refusal("survey");
  const answer = sv.sealSurveyAnswer(survey, manifest, { scores, freeText });
  progress("encrypt", 1);
  let { challenge, solution } = await solve(surveyData.challenge, "survey");
  const path = `/api/v1/surveys/${encodeURIComponent(surveyId)}/answers`;
  let response = await request("POST", path, { json: { proof: { challenge, solution }, answer } });
  if (response && response.status === 400 && (await errorCode(response.clone())) === "challenge_rejected") {
    ({ challenge, solution } = await solve(null, "survey"));
    response = await request("POST", path, { json: { proof: { challenge, solution }, answer } });
  }
  if (!response) throw new Refusal("unreachable");
  if (response.status === 409) throw new Refusal("survey_closed");
  if (response.status !== 204) throw new Refusal("server");
  progress("send", 1);
  surveyData.challenge = null;
  return { surveyId };
}

// =============================================================================================

function failure(error) {
  return {
    type: "failed",
    reason: error instanceof Refusal ? error.reason : "internal",
    detail: error instanceof Refusal ? error.detail : null,
  };
}

self.onmessage = async (event) => {
  const data = event.data || {};
  try {
    if (data.type === "start") {
      await startReport(data);
    } else if (data.type === "submit") {
      if (!manifest || !prepared) {
        post({ type: "failed", reason: "not_ready" });
        return;
      }
      post({ type: "done", ...(await submit(data.report, data.files || [])) });
    } else if (data.type === "start-follow-up") {
      await startFollowUp(data);
    } else if (data.type === "open") {
      if (!manifest) {
        post({ type: "failed", reason: "not_ready" });
        return;
      }
      post({ type: "thread", thread: await openCase(data.code) });
    } else if (data.type === "reply") {
      post({ type: "replied", ...(await reply(data.text, data.files || [])) });
    } else if (data.type === "reload") {
      if (!session) throw new Refusal("session");
      post({ type: "thread", thread: await loadThread() });
    } else if (data.type === "start-survey") {
      await startSurvey(data);
    } else if (data.type === "answer-survey") {
      if (!manifest || !surveys) {
        post({ type: "failed", reason: "not_ready" });
        return;
      }
      post({ type: "answered", ...(await answerSurvey(data)) });
    } else if (data.type === "leave") {
      await leave();
      post({ type: "left" });
    }
  } catch (error) {
    post(failure(error));
  }
};

// SafeVoice reporter cryptography for the browser: the formats of docs/protocol.md, version 1.
//
// This is the browser's counterpart of src/safevoice/crypto/ and follows it function by
// function; tests/web/vectors.mjs checks it against tests/vectors/crypto-v1.json. Every
// operation goes through libsodium.js (the sumo build, for Argon2id). Nothing here touches the
// network, the page or any storage: callers pass bytes in and get bytes out, so the same module
// serves the first report today and reporter login (derive the keys again, sign a challenge)
// and the dialogue (open and seal envelopes) later.
//
// Module rules kept for the release bundle (safevoice.web.bundle): no imports, and exports
// only as `export function` declarations.

export function createCrypto(sodium, options = {}) {
  const randomBytes = options.randomBytes || ((size) => sodium.randombytes_buf(size));
  const encoder = new TextEncoder();
  // Fatal on bad UTF-8, and a byte-order mark stays in the text (where JSON refuses it), as
  // Python's bytes.decode("utf-8") keeps it.
  const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

  const SUITE = "safevoice-xchacha20poly1305-ed25519-blake2b-v1";
  const MESSAGE_CONTEXT = "safevoice-message-v1";
  const TRANSCRIPT_CONTEXT = "safevoice-transcript-v1";
  const COMMIT_CONTEXT = "safevoice-key-commit-v1";
  const WRAP_CONTEXT = "safevoice-keys-v1";
  const RECIPIENTS_CONTEXT = "safevoice-recipients-v1";
  const RECEIPT_CONTEXT = "safevoice-receipt-v1";
  const REDACTION_CONTEXT = "safevoice-redaction-v1";
  const REDACTION_FILES_CONTEXT = "safevoice-redaction-v2";
  const LOGIN_CONTEXT = "safevoice-login-v1";
  const MANIFEST_CONTEXT = "safevoice-manifest-v1";
  const FINGERPRINT_CONTEXT = "safevoice-fingerprint-v1";
  const POW_CONTEXT = "safevoice-pow-v1";
  const STAMP_CONTEXT = "safevoice-pow-stamp-v1";
  // The cheap first stage of a solution (protocol 9.4): the server checks it before Argon2id.
  const STAMP_BITS = 15;
  const REPLY_KEY_CONTEXT = "safevoice-reply-key-v1";
  const SIGN_KEY_CONTEXT = "safevoice-reporter-sign-v1";
  const REPORT_FORMAT = "safevoice-report-v1";
  const MESSAGE_FORMAT = "safevoice-message-v1";
  const REPORTER = "reporter";

  const PAD_BUCKETS = [512, 2048, 8192, 32768, 131072, 524288];
  const MAX_PLAINTEXT = PAD_BUCKETS[PAD_BUCKETS.length - 1] - 1;
  const TAG_BYTES = 16;
  const GENESIS = new Uint8Array(32);
  const KIND_CHAIN = {
    report: "thread",
    message: "thread",
    status: "thread",
    epoch: "thread",
    note: "committee",
    triage: "committee",
    action: "committee",
    closure: "committee",
  };

  const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const CODE_RANDOM_CHARS = 22;
  const CODE_RANDOM_BYTES = 14;
  const CODE_CHARS = 25;
  const CHECK_MODULUS = 1021;
  const CONFUSABLE = { O: "0", I: "1", L: "1", U: "V" };

  const MIN_CODE_MEMLIMIT = 64 * 1024 * 1024;
  const MIN_CODE_OPSLIMIT = 2;
  const MAX_CODE_MEMLIMIT = 1024 * 1024 * 1024;
  const MAX_CODE_OPSLIMIT = 16;
  const MAX_VALIDITY_MS = 90 * 24 * 3600 * 1000;
  const CLOCK_SKEW_MS = 10 * 60 * 1000;
  const KEY_ID = /^[a-z0-9][a-z0-9._-]{0,31}$/;

  const PURPOSES = { submit: 1, "reporter-login": 2, "member-login": 3, upload: 4, survey: 5 };
  const CHALLENGE_BYTES = 43;
  const CHALLENGE_BODY_BYTES = 27;
  const WORK_MEMLIMIT = 1024 * 1024;
  const WORK_OPSLIMIT = 1;

  class SafeVoiceCryptoError extends Error {
    constructor(reason, message) {
      super(message);
      this.reason = reason;
    }
  }

  function fail(reason, message) {
    throw new SafeVoiceCryptoError(reason, message);
  }

  // --- bytes and encodings (protocol 1.1-1.4) ---

  function utf8(text) {
    return encoder.encode(text);
  }

  function concat(...parts) {
    const total = parts.reduce((sum, part) => sum + part.length, 0);
    const out = new Uint8Array(total);
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  function equalBytes(a, b) {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i += 1) diff |= a[i] ^ b[i];
    return diff === 0;
  }

  function b64e(bytes) {
    return sodium.to_base64(bytes, sodium.base64_variants.URLSAFE_NO_PADDING);
  }

  function b64d(text, size, what = "value") {
    if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
      fail("encoding", `The ${what} is not valid base64url.`);
    }
    let bytes;
    try {
      bytes = sodium.from_base64(text, sodium.base64_variants.URLSAFE_NO_PADDING);
    } catch {
      fail("encoding", `The ${what} is not valid base64url.`);
    }
    if (b64e(bytes) !== text) fail("encoding", `The ${what} is not canonical base64url.`);
    if (size !== undefined && size !== null && bytes.length !== size) {
      fail("encoding", `The ${what} has the wrong length.`);
    }
    return bytes;
  }

  function hex(bytes) {
    return sodium.to_hex(bytes);
  }

  function u32(value) {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value, false);
    return out;
  }

  function u64(value) {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(value), false);
    return out;
  }

  function field(value) {
    return typeof value === "string" ? utf8(value) : value;
  }

  function lp(...fields) {
    const parts = [];
    for (const raw of fields) {
      const bytes = field(raw);
      parts.push(u32(bytes.length), bytes);
    }
    return concat(...parts);
  }

  function splitLp(data) {
    const fields = [];
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let pos = 0;
    while (pos < data.length) {
      if (pos + 4 > data.length) fail("encoding", "A length-prefixed field is truncated.");
      const size = view.getUint32(pos, false);
      pos += 4;
      if (pos + size > data.length) fail("encoding", "A length-prefixed field is truncated.");
      fields.push(data.slice(pos, pos + size));
      pos += size;
    }
    return fields;
  }

  function compareCodePoints(a, b) {
    const left = Array.from(a);
    const right = Array.from(b);
    const length = Math.min(left.length, right.length);
    for (let i = 0; i < length; i += 1) {
      const diff = left[i].codePointAt(0) - right[i].codePointAt(0);
      if (diff !== 0) return diff;
    }
    return left.length - right.length;
  }

  // Canonical JSON (protocol 1.4): sorted keys by code point, no spaces, integers only.
  function canonicalText(value) {
    if (value === null || typeof value === "boolean") return JSON.stringify(value);
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) fail("encoding", "Only whole numbers can be signed.");
      return String(value);
    }
    if (typeof value === "string") return JSON.stringify(value);
    if (Array.isArray(value)) return `[${value.map(canonicalText).join(",")}]`;
    if (typeof value === "object") {
      const keys = Object.keys(value).sort(compareCodePoints);
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalText(value[k])}`).join(",")}}`;
    }
    return fail("encoding", "This value cannot be written as JSON.");
  }

  function canonicalJson(value) {
    return utf8(canonicalText(value));
  }

  // --- hashing, keys and signatures (protocol 1.5-1.7, 2) ---

  function blake2b(data, size = 32, key = null) {
    return sodium.crypto_generichash(size, data, key);
  }

  function fingerprint(kind, boxKey, signKey) {
    return hex(blake2b(lp(FINGERPRINT_CONTEXT, kind, boxKey || new Uint8Array(0), signKey), 20));
  }

  function formatFingerprint(fp) {
    return fp.match(/.{1,4}/g).join("-");
  }

  function parseFingerprint(text) {
    const cleaned = String(text).replace(/[\s:-]/g, "").toLowerCase();
    if (!/^[0-9a-f]{40}$/.test(cleaned)) fail("encoding", "A fingerprint has 40 hex digits.");
    return cleaned;
  }

  function signPair(seed) {
    return sodium.crypto_sign_seed_keypair(seed);
  }

  function sign(seed, context, ...fields) {
    return sodium.crypto_sign_detached(lp(context, ...fields), signPair(seed).privateKey);
  }

  function verifies(publicKey, signature, context, ...fields) {
    try {
      return sodium.crypto_sign_verify_detached(signature, lp(context, ...fields), publicKey);
    } catch {
      return false;
    }
  }

  // --- the manifest (protocol 3) ---

  function parseTime(text) {
    if (typeof text !== "string" || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(text)) {
      fail("manifest", "The manifest has a malformed date.");
    }
    const ms = Date.parse(text);
    if (Number.isNaN(ms) || new Date(ms).toISOString().replace(".000Z", "Z") !== text) {
      fail("manifest", "The manifest has a malformed date.");
    }
    return ms;
  }

  function isInteger(value) {
    return typeof value === "number" && Number.isSafeInteger(value);
  }

  function requireString(value) {
    if (typeof value !== "string") fail("manifest", "The manifest is malformed.");
    return value;
  }

  function decodeWire(wire) {
    if (!wire || typeof wire !== "object" || !Array.isArray(wire.signatures)) {
      fail("manifest", "The manifest is malformed.");
    }
    try {
      return {
        payload: b64d(wire.payload, null, "manifest payload"),
        signatures: wire.signatures.map((s) => ({
          rootFp: requireString(s.root_fp),
          rootKey: b64d(s.root_key, 32, "root key"),
          sig: b64d(s.sig, 64, "manifest signature"),
        })),
      };
    } catch (error) {
      if (error instanceof SafeVoiceCryptoError) fail("manifest", "The manifest is malformed.");
      throw error;
    }
  }

  function validSigners(signed) {
    const good = new Set();
    for (const s of signed.signatures) {
      if (fingerprint("root", null, s.rootKey) !== s.rootFp) continue;
      if (verifies(s.rootKey, s.sig, MANIFEST_CONTEXT, signed.payload)) good.add(s.rootFp);
    }
    return good;
  }

  function member(entry, kind) {
    if (!entry || typeof entry !== "object") fail("manifest", "The manifest is malformed.");
    const parsed = {
      kind,
      id: requireString(entry.id),
      name: requireString(entry.name),
      signKey: b64d(entry.sign_key, 32, "signing key"),
      boxKey: b64d(entry.box_key, 32, "encryption key"),
    };
    if (!KEY_ID.test(parsed.id)) fail("manifest", "The manifest lists a member with an invalid id.");
    return parsed;
  }

  // Signing keys the committee removed or replaced (protocol 3.2): optional, present once a
  // key was retired. `untilVersion` is the first manifest version without the key.
  function retiredKeys(list) {
    if (list === undefined) return [];
    if (!Array.isArray(list)) fail("manifest", "The manifest is malformed.");
    return list.map((r) => {
      if (!r || typeof r !== "object" || !isInteger(r.until_version)) {
        fail("manifest", "The manifest is malformed.");
      }
      return {
        label: requireString(r.label),
        signKey: b64d(r.sign_key, 32, "retired key"),
        untilVersion: r.until_version,
      };
    });
  }

  // "member:alice" -> ["member", "alice"]; a label without a colon has an empty id.
  function splitLabel(label) {
    const colon = label.indexOf(":");
    return colon < 0 ? [label, ""] : [label.slice(0, colon), label.slice(colon + 1)];
  }

  function parsePayload(payload) {
    let data;
    try {
      data = JSON.parse(strictDecoder.decode(payload));
    } catch {
      fail("manifest", "The manifest is malformed.");
    }
    if (!data || typeof data !== "object" || Array.isArray(data)) {
      fail("manifest", "The manifest is malformed.");
    }
    let canonical;
    try {
      canonical = canonicalJson(data);
    } catch {
      fail("manifest", "The manifest was re-serialised; only the exact signed bytes count.");
    }
    if (!equalBytes(canonical, payload)) {
      fail("manifest", "The manifest was re-serialised; only the exact signed bytes count.");
    }
    if (data.format !== "safevoice-manifest-v1") fail("manifest", "The manifest has an unknown format.");
    let manifest;
    try {
      if (!isInteger(data.version) || data.version < 1) {
        fail("manifest", "The manifest has an invalid version.");
      }
      if (!Array.isArray(data.code_kdf) || data.code_kdf.some((k) => k.alg !== "argon2id13")) {
        fail("manifest", "The manifest names a key derivation this client does not know.");
      }
      const codeKdf = data.code_kdf.map((k) => {
        if (![k.version, k.opslimit, k.memlimit].every(isInteger)) {
          fail("manifest", "The manifest is malformed.");
        }
        return { version: k.version, opslimit: k.opslimit, memlimit: k.memlimit };
      });
      const auditKeys = data.audit_keys.map((k) => {
        if (!isInteger(k.from_seq)) fail("manifest", "The manifest is malformed.");
        return { key: b64d(k.key, 32, "audit key"), fromSeq: k.from_seq };
      });
      if (!Array.isArray(data.envelope_versions) || !data.envelope_versions.every(isInteger)) {
        fail("manifest", "The manifest is malformed.");
      }
      manifest = {
        instanceId: requireString(data.instance_id),
        version: data.version,
        issuedAt: parseTime(data.issued_at),
        expiresAt: parseTime(data.expires_at),
        root: requireString(data.root),
        instanceSalt: b64d(data.instance_salt, 16, "instance salt"),
        codeKdf,
        envelopeVersions: data.envelope_versions,
        members: data.members.map((m) => member(m, "member")),
        auditors: data.auditors.map((a) => ({
          kind: "auditor",
          id: requireString(a.id),
          name: requireString(a.name),
          signKey: b64d(a.key, 32, "auditor key"),
        })),
        auditKeys,
        archive: data.archive ? member(data.archive, "archive") : null,
        retired: retiredKeys(data.retired),
      };
    } catch (error) {
      if (error instanceof SafeVoiceCryptoError && error.reason === "manifest") throw error;
      fail("manifest", "The manifest is malformed.");
    }
    checkLimits(manifest);
    return manifest;
  }

  function checkLimits(m) {
    if (m.expiresAt - m.issuedAt > MAX_VALIDITY_MS) {
      fail("manifest", "The manifest claims a validity longer than 90 days.");
    }
    if (m.codeKdf.length === 0) {
      fail("manifest", "The manifest names no key derivation for follow-up codes.");
    }
    const versions = m.codeKdf.map((k) => k.version);
    if (new Set(versions).size !== versions.length || !versions.every((v) => v >= 1 && v <= 31)) {
      fail("manifest", "The manifest's follow-up code versions are invalid.");
    }
    // Printable ASCII is all the Python side lets through here as well.
    if (m.instanceId.length < 1 || m.instanceId.length > 64 || !/^[\x00-\x7f]*$/.test(m.instanceId)) {
      fail("manifest", "The manifest's instance id is invalid.");
    }
    if (!m.auditors.every((a) => KEY_ID.test(a.id))) {
      fail("manifest", "The manifest lists an auditor with an invalid id.");
    }
    for (const kdf of m.codeKdf) {
      if (kdf.memlimit < MIN_CODE_MEMLIMIT || kdf.opslimit < MIN_CODE_OPSLIMIT) {
        fail(
          "manifest",
          "The manifest asks for a follow-up code derivation weaker than SafeVoice allows.",
        );
      }
      if (kdf.memlimit > MAX_CODE_MEMLIMIT || kdf.opslimit > MAX_CODE_OPSLIMIT) {
        fail("manifest", "The manifest asks for an unreasonably costly key derivation.");
      }
    }
    if (!m.envelopeVersions.includes(1)) {
      fail("manifest", "The manifest allows no envelope version this client supports.");
    }
    const ids = [...m.members, ...m.auditors].map((k) => k.id);
    if (m.archive) ids.push(m.archive.id);
    if (new Set(ids).size !== ids.length) fail("manifest", "The manifest lists the same id twice.");
    if (m.members.length === 0) fail("manifest", "The manifest lists no committee member.");
    if (m.auditKeys.length === 0) fail("manifest", "The manifest lists no audit key.");
    for (const r of m.retired) {
      const [kind, id] = splitLabel(r.label);
      if (!["member", "auditor", "archive"].includes(kind) || !KEY_ID.test(id)) {
        fail("manifest", "The manifest lists a retired key with an invalid label.");
      }
      if (!(r.untilVersion > 1 && r.untilVersion <= m.version)) {
        fail("manifest", "The manifest lists a key retired in an impossible version.");
      }
    }
  }

  // Verify a manifest in its wire form against the pinned root (protocol 3.3, steps 1-6; this
  // client keeps no history, so step 7 does not apply). Returns the parsed manifest.
  function verifyManifest(wire, { pin, now }) {
    const signed = decodeWire(wire);
    const signers = validSigners(signed);
    if (!signers.has(pin)) {
      fail(
        "pin",
        "The committee's list of readers is not signed by the committee root built into this " +
          "page.",
      );
    }
    const manifest = parsePayload(signed.payload);
    if (!signers.has(manifest.root)) {
      fail("manifest", "The manifest names a committee root that did not sign it.");
    }
    if (now >= manifest.expiresAt) fail("expired", "The committee's list of readers has expired.");
    if (manifest.issuedAt > now + CLOCK_SKEW_MS || manifest.expiresAt - now > MAX_VALIDITY_MS) {
      fail("future", "The manifest claims to be issued in the future.");
    }
    manifest.digest = b64e(blake2b(signed.payload));
    manifest.pinAfter = manifest.root;
    return manifest;
  }

  function currentCodeKdf(manifest) {
    return manifest.codeKdf.reduce((best, k) => (k.version > best.version ? k : best));
  }

  // The derivation for an existing code: the manifest entry of the code's own version.
  function codeKdfFor(manifest, version) {
    return manifest.codeKdf.find((k) => k.version === version) || null;
  }

  function receiptKey(manifest) {
    return manifest.auditKeys.reduce((best, k) => (k.fromSeq > best.fromSeq ? k : best)).key;
  }

  // --- follow-up codes (protocol 4) ---

  function checksum(body) {
    let total = 0;
    for (let i = 0; i < body.length; i += 1) total += (i + 1) * ALPHABET.indexOf(body[i]);
    total %= CHECK_MODULUS;
    return ALPHABET[Math.floor(total / 32)] + ALPHABET[total % 32];
  }

  function displayCode(canonical) {
    return canonical.match(/.{1,5}/g).join("-");
  }

  function generateCode(version, randomness = null) {
    const data = randomness || randomBytes(CODE_RANDOM_BYTES);
    if (data.length !== CODE_RANDOM_BYTES) fail("code", "A code needs 14 random bytes.");
    if (!(version >= 1 && version < ALPHABET.length)) fail("code", "Code version out of range.");
    let value = 0n;
    for (const byte of data) value = (value << 8n) | BigInt(byte);
    let body = ALPHABET[version];
    for (let i = 0; i < CODE_RANDOM_CHARS; i += 1) {
      body += ALPHABET[Number((value >> BigInt(112 - 5 * (i + 1))) & 31n)];
    }
    return displayCode(body + checksum(body));
  }

  // A mistyped code (protocol 4.2): `detail` says which rule it breaks, so a page can say so
  // in its own words. Nothing is derived or sent for a code that fails here.
  function codeTypo(detail, message) {
    const error = new SafeVoiceCryptoError("code", message);
    error.detail = detail;
    throw error;
  }

  function parseCode(text) {
    let cleaned = "";
    for (const ch of String(text).toUpperCase()) {
      if (/\s/.test(ch) || ch === "-") continue;
      cleaned += CONFUSABLE[ch] || ch;
    }
    if (cleaned.length !== CODE_CHARS) {
      codeTypo("length", `A follow-up code has ${CODE_CHARS} characters in five groups.`);
    }
    if ([...cleaned].some((ch) => !ALPHABET.includes(ch))) {
      codeTypo("character", "The follow-up code contains a character that codes never use.");
    }
    if (cleaned[0] === ALPHABET[0]) {
      codeTypo("start", "The follow-up code does not start like a SafeVoice code.");
    }
    if (checksum(cleaned.slice(0, -2)) !== cleaned.slice(-2)) {
      codeTypo("checksum", "The follow-up code has a typo; please compare it character by character.");
    }
    return { canonical: cleaned, version: ALPHABET.indexOf(cleaned[0]) };
  }

  function stretchCode(parsed, { salt, opslimit, memlimit }) {
    return sodium.crypto_pwhash(
      32,
      utf8(parsed.canonical),
      salt,
      opslimit,
      memlimit,
      sodium.crypto_pwhash_ALG_ARGON2ID13,
    );
  }

  // The reporter's two key pairs from the follow-up code (protocol 4.3). Used to open a case
  // today and, later, to log in again and read replies with the same code.
  function deriveReporterKeys(parsed, params) {
    const stretched = stretchCode(parsed, params);
    return reporterKeysFromStretched(stretched);
  }

  function reporterKeysFromStretched(stretched) {
    const replySeed = blake2b(utf8(REPLY_KEY_CONTEXT), 32, stretched);
    const signSeed = blake2b(utf8(SIGN_KEY_CONTEXT), 32, stretched);
    const reply = sodium.crypto_box_seed_keypair(replySeed);
    const signing = signPair(signSeed);
    return {
      replyPublic: reply.publicKey,
      replySecret: reply.privateKey,
      signSeed,
      signPublic: signing.publicKey,
    };
  }

  // --- envelopes (protocol 6) ---

  function bucketFor(size) {
    const bucket = PAD_BUCKETS.find((b) => size < b);
    if (bucket === undefined) fail("too_large", "The report is too long.");
    return bucket;
  }

  function pad(plaintext) {
    return sodium.pad(plaintext, bucketFor(plaintext.length));
  }

  function unpad(padded) {
    if (!PAD_BUCKETS.includes(padded.length)) fail("envelope", "Unexpected padded size.");
    try {
      return sodium.unpad(padded, padded.length);
    } catch {
      return fail("envelope", "The padding is invalid.");
    }
  }

  function keyCommitment(key, nonce) {
    return blake2b(lp(COMMIT_CONTEXT, key, nonce));
  }

  function associatedData(env) {
    return lp(SUITE, env.caseId, env.kind, env.sender, u32(env.seq), env.prev, u32(env.epoch));
  }

  function signedFields(env) {
    return [associatedData(env), env.keyCommit, env.nonce, env.ct];
  }

  function transcriptHash(env) {
    return blake2b(lp(TRANSCRIPT_CONTEXT, ...signedFields(env), env.sig));
  }

  function chainOf(kind) {
    if (!Object.hasOwn(KIND_CHAIN, kind)) fail("envelope", "The object kind is unknown.");
    return KIND_CHAIN[kind];
  }

  function sealEnvelope(key, plaintext, { caseId, kind, sender, seq, prev, epoch, signSeed }) {
    chainOf(kind);
    const nonce = randomBytes(24);
    const env = { version: 1, caseId, kind, sender, seq, prev, epoch, nonce };
    env.keyCommit = keyCommitment(key, nonce);
    env.ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
      pad(plaintext),
      associatedData(env),
      null,
      nonce,
      key,
    );
    env.sig = sign(signSeed, MESSAGE_CONTEXT, ...signedFields(env));
    return env;
  }

  function envelopeToJson(env) {
    return {
      v: env.version,
      case_id: b64e(env.caseId),
      kind: env.kind,
      sender: env.sender,
      seq: env.seq,
      prev: b64e(env.prev),
      epoch: env.epoch,
      key_commit: b64e(env.keyCommit),
      nonce: b64e(env.nonce),
      ct: b64e(env.ct),
      sig: b64e(env.sig),
    };
  }

  const ENVELOPE_FIELDS = [
    "v",
    "case_id",
    "kind",
    "sender",
    "seq",
    "prev",
    "epoch",
    "key_commit",
    "nonce",
    "ct",
    "sig",
  ].sort();

  function envelopeFromJson(data) {
    if (!data || typeof data !== "object" || Array.isArray(data)) {
      fail("envelope", "The envelope does not have the expected fields.");
    }
    const keys = Object.keys(data).sort();
    if (keys.join(",") !== ENVELOPE_FIELDS.join(",")) {
      fail("envelope", "The envelope does not have the expected fields.");
    }
    for (const n of [data.v, data.seq, data.epoch]) {
      if (!isInteger(n) || n < 0 || n >= 2 ** 32) fail("envelope", "Malformed number.");
    }
    if (data.v !== 1) fail("envelope", "The envelope version is not supported.");
    if (typeof data.kind !== "string" || typeof data.sender !== "string") {
      fail("envelope", "The envelope has a malformed kind or sender.");
    }
    chainOf(data.kind);
    if (data.sender.length > 64) fail("envelope", "The envelope's sender is too long.");
    try {
      const ct = b64d(data.ct, null, "ciphertext");
      if (!PAD_BUCKETS.some((b) => b + TAG_BYTES === ct.length)) {
        fail("envelope", "The ciphertext is not of a padded size.");
      }
      return {
        version: data.v,
        caseId: b64d(data.case_id, 16, "case id"),
        kind: data.kind,
        sender: data.sender,
        seq: data.seq,
        prev: b64d(data.prev, 32, "previous hash"),
        epoch: data.epoch,
        keyCommit: b64d(data.key_commit, 32, "key commitment"),
        nonce: b64d(data.nonce, 24, "nonce"),
        ct,
        sig: b64d(data.sig, 64, "signature"),
      };
    } catch (error) {
      if (error instanceof SafeVoiceCryptoError && error.reason === "encoding") {
        fail("envelope", `The envelope is malformed: ${error.message}`);
      }
      throw error;
    }
  }

  // Check the key commitment, decrypt and unpad without checking the signature: only for the
  // first report, whose signing key is inside it; everything else uses openEnvelope.
  function decryptEnvelope(key, env) {
    if (!equalBytes(keyCommitment(key, env.nonce), env.keyCommit)) {
      fail("verification", "The object was not encrypted under this case key.");
    }
    let padded;
    try {
      padded = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        null,
        env.ct,
        associatedData(env),
        env.nonce,
        key,
      );
    } catch {
      fail("verification", "The object does not decrypt; it was altered or moved.");
    }
    return unpad(padded);
  }

  function openEnvelope(key, env, signKey) {
    if (!verifies(signKey, env.sig, MESSAGE_CONTEXT, ...signedFields(env))) {
      fail("verification", "A signature did not verify.");
    }
    return decryptEnvelope(key, env);
  }

  // --- wrapped case keys (protocol 5.3) ---

  function wrapPlaintext({ caseId, epoch, recipient, thread, committee }) {
    return lp(WRAP_CONTEXT, caseId, u32(epoch), recipient, thread, committee || new Uint8Array(0));
  }

  function wrapCaseKeys(boxKey, keys) {
    return sodium.crypto_box_seal(wrapPlaintext(keys), boxKey);
  }

  function unwrapCaseKeys(boxSecret, sealed, { caseId, epoch, recipient }) {
    const publicKey = sodium.crypto_scalarmult_base(boxSecret);
    let plaintext;
    try {
      plaintext = sodium.crypto_box_seal_open(sealed, publicKey, boxSecret);
    } catch {
      fail("verification", "This wrapped key is not for this private key.");
    }
    let fields;
    try {
      fields = splitLp(plaintext);
    } catch {
      fail("verification", "The wrapped key is malformed.");
    }
    const [context, gotCase, gotEpoch, gotRecipient, thread, committee] = fields;
    if (
      fields.length !== 6 ||
      !equalBytes(context, utf8(WRAP_CONTEXT)) ||
      !equalBytes(gotCase, caseId) ||
      !equalBytes(gotEpoch, u32(epoch)) ||
      !equalBytes(gotRecipient, utf8(recipient)) ||
      thread.length !== 32 ||
      (committee.length !== 0 && committee.length !== 32)
    ) {
      fail("verification", "The wrapped key was made for another case, epoch or person.");
    }
    return { thread, committee: committee.length ? committee : null };
  }

  // --- a new case (protocol 5, 7) ---

  function memberLabel(id) {
    return `member:${id}`;
  }

  function recipientsFields(caseId, manifestVersion, labels) {
    const sorted = [...labels].sort(compareCodePoints);
    return [caseId, u32(manifestVersion), ...sorted];
  }

  // 16 random bytes whose base64url form does not start with "-" (protocol 5.1): the server
  // refuses such ids, because a case id must never read as a command-line option.
  function newCaseId() {
    for (;;) {
      const caseId = randomBytes(16);
      if (caseId[0] >> 2 !== 62) return caseId;
    }
  }

  function createCase(
    manifest,
    reporter,
    { channel, text, answers = {}, exclude = [], attachments = [], caseId = null },
  ) {
    const excluded = new Set(exclude);
    if ([...excluded].some((id) => !manifest.members.some((m) => m.id === id))) {
      fail("request", "You asked to exclude someone who is not on the committee.");
    }
    const recipients = manifest.members.filter((m) => !excluded.has(m.id));
    if (recipients.length === 0) {
      fail("request", "At least one committee member must be able to read the report.");
    }
    if (!text.trim()) fail("request", "The report is empty.");
    const labels = recipients.map((m) => memberLabel(m.id));
    if (manifest.archive) labels.push(`archive:${manifest.archive.id}`);

    if (caseId === null) caseId = newCaseId();
    const keys = { thread: randomBytes(32), committee: randomBytes(32) };
    const recipientsSig = sign(
      reporter.signSeed,
      RECIPIENTS_CONTEXT,
      ...recipientsFields(caseId, manifest.version, labels),
    );
    const body = {
      format: REPORT_FORMAT,
      channel,
      text,
      answers,
      reply_key: b64e(reporter.replyPublic),
      sign_key: b64e(reporter.signPublic),
      recipients: {
        labels: [...labels].sort(compareCodePoints),
        manifest_version: manifest.version,
        sig: b64e(recipientsSig),
      },
      attachments,
    };
    const plaintext = canonicalJson(body);
    if (plaintext.length > MAX_PLAINTEXT) fail("too_large", "The report is too long.");
    const report = sealEnvelope(keys.thread, plaintext, {
      caseId,
      kind: "report",
      sender: REPORTER,
      seq: 0,
      prev: GENESIS,
      epoch: 0,
      signSeed: reporter.signSeed,
    });
    plaintext.fill(0);
    const wrapped = {};
    const wrapTo = [...recipients];
    if (manifest.archive) wrapTo.push(manifest.archive);
    for (const r of wrapTo) {
      const label = r.kind === "archive" ? `archive:${r.id}` : memberLabel(r.id);
      wrapped[label] = wrapCaseKeys(r.boxKey, { caseId, epoch: 0, recipient: label, ...keys });
    }
    wrapped[REPORTER] = wrapCaseKeys(reporter.replyPublic, {
      caseId,
      epoch: 0,
      recipient: REPORTER,
      thread: keys.thread,
      committee: null,
    });
    return { caseId, keys, report, wrapped };
  }

  // The `case` member of POST /api/v1/cases (protocol 11.5.5); `uploads` names the files whose
  // descriptors the report carries, so the server binds them to the new case.
  function submissionCase(newCase, channel, reporter, uploads = []) {
    const body = {
      id: b64e(newCase.caseId),
      channel,
      reporter: { reply_key: b64e(reporter.replyPublic), sign_key: b64e(reporter.signPublic) },
      report: envelopeToJson(newCase.report),
      wrapped_keys: Object.keys(newCase.wrapped)
        .sort()
        .map((label) => ({ recipient: label, sealed: b64e(newCase.wrapped[label]) })),
    };
    // Without files the request stays exactly what it was before attachments existed.
    if (uploads.length) body.uploads = uploads;
    return body;
  }

  function messagePlaintext(text, attachments = []) {
    if (!text.trim()) fail("request", "The message is empty.");
    return canonicalJson({ format: MESSAGE_FORMAT, text, attachments });
  }

  // --- attachments: secretstream in fixed chunks (src/safevoice/crypto/stream.py) ---
  //
  // Each file has its own key and stream header, carried only inside the encrypted report or
  // message. Every chunk but the last holds exactly FILE_CHUNK_PLAINTEXT bytes; the last holds
  // the rest, padded with sodium_pad to a full chunk and tagged FINAL, so every stored chunk has
  // the same size. Each chunk's associated data names the file (its upload id) and position.

  const FILE_CHUNK_PLAINTEXT = 1024 * 1024;
  const FILE_CHUNK_CIPHERTEXT =
    FILE_CHUNK_PLAINTEXT + sodium.crypto_secretstream_xchacha20poly1305_ABYTES;
  const FILE_CHUNK_CONTEXT = "safevoice-file-chunk-v1";
  const TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
  const TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;

  function fileChunkCount(size) {
    return Math.floor(size / FILE_CHUNK_PLAINTEXT) + 1;
  }

  function fileChunkAd(fileId, index) {
    return lp(FILE_CHUNK_CONTEXT, fileId, u32(index));
  }

  // The push side: call push(plaintext, last) once per chunk, in order.
  function createFileEncryptor(fileId, key = randomBytes(32)) {
    const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
    let done = 0;
    return {
      key,
      header,
      get chunksDone() {
        return done;
      },
      push(plaintext, last) {
        let data = plaintext;
        if (last) {
          if (plaintext.length >= FILE_CHUNK_PLAINTEXT) {
            fail("request", "The last chunk holds less than a full chunk of the file.");
          }
          data = sodium.pad(plaintext, FILE_CHUNK_PLAINTEXT);
        } else if (plaintext.length !== FILE_CHUNK_PLAINTEXT) {
          fail("request", "Every chunk but the last holds exactly one full chunk of the file.");
        }
        const chunk = sodium.crypto_secretstream_xchacha20poly1305_push(
          state,
          data,
          fileChunkAd(fileId, done),
          last ? TAG_FINAL : TAG_MESSAGE,
        );
        if (data !== plaintext) data.fill(0);
        done += 1;
        return chunk;
      },
    };
  }

  // The pull side: feed the chunks in order; the last must carry the FINAL tag.
  function createFileDecryptor(fileId, key, header, chunks) {
    if (key.length !== 32 || header.length !== 24) {
      fail("verification", "The attachment's key is malformed.");
    }
    const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, key);
    let index = 0;
    let finished = false;
    return {
      get finished() {
        return finished;
      },
      update(chunk) {
        if (finished) fail("verification", "The attachment has chunks after its end.");
        if (chunk.length !== FILE_CHUNK_CIPHERTEXT) {
          fail("verification", `Chunk ${index} of the attachment has the wrong size.`);
        }
        let pulled = false;
        try {
          pulled = sodium.crypto_secretstream_xchacha20poly1305_pull(
            state,
            chunk,
            fileChunkAd(fileId, index),
          );
        } catch {
          pulled = false;
        }
        if (!pulled) {
          fail("verification", `Chunk ${index} of the attachment was altered, replayed or reordered.`);
        }
        index += 1;
        const last = index === chunks;
        if ((pulled.tag === TAG_FINAL) !== last) {
          fail("verification", "The attachment was cut short or extended.");
        }
        if (!last) return pulled.message;
        finished = true;
        try {
          return sodium.unpad(pulled.message, FILE_CHUNK_PLAINTEXT);
        } catch {
          return fail("verification", "The attachment's padding is invalid.");
        }
      },
    };
  }

  // What the report or message says about a file (the descriptor of client/files.py). Only
  // what a reader shows is checked here: name, type, size and a consistent chunk count.
  function parseAttachment(data) {
    if (
      !data ||
      typeof data !== "object" ||
      typeof data.name !== "string" ||
      typeof data.type !== "string" ||
      !isInteger(data.size) ||
      data.size < 0 ||
      !isInteger(data.chunks) ||
      data.chunks !== fileChunkCount(data.size) ||
      typeof data.upload_id !== "string"
    ) {
      fail("verification", "An attachment's description is malformed.");
    }
    b64d(data.key, 32, "file key");
    b64d(data.header, 24, "stream header");
    return { name: data.name, type: data.type, size: data.size };
  }

  // --- reading the thread as the reporter (client/reader.py, read_as_reporter) ---
  //
  // Nothing the server says is trusted: the thread key must come out of a wrapped key that
  // opens with the reply key derived from the code and names this case, epoch and "reporter";
  // earlier epochs' thread keys come from the current epoch's record, signed by a member or
  // the archive recipient of the verified manifest; each object is checked for its position,
  // its link to the one before, its epoch (never lower than the one before; a new epoch begins
  // with its record), its sender's signature (members and the archive recipient from the
  // manifest, with the keys it retired only after the object's epoch began; the reporter from
  // inside the report) and its key commitment. Problems come back as codes (with the position
  // they were found at) for the page to explain; objects that fail are kept and marked, never
  // skipped. The rules are those of the Python reader, rule for rule; tests/web/thread.mjs
  // checks both on the same threads.

  const EPOCH_FORMAT = "safevoice-epoch-v1";
  const HEAD_CHAINS = ["committee", "thread"];
  const MAX_U32 = 2 ** 32;

  function problemAt(code, seq = null, expected = null) {
    return { code, seq, expected };
  }

  function jsonOf(plaintext) {
    return JSON.parse(strictDecoder.decode(plaintext));
  }

  function isPlainObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  // Failures of a signed object's own content (not of this code): bad bytes, bad UTF-8, bad JSON.
  function unreadable(error) {
    return (
      error instanceof SafeVoiceCryptoError ||
      error instanceof SyntaxError ||
      error instanceof TypeError
    );
  }

  // Whom a sender label names in the manifest: a member or the archive recipient (auditors
  // never sign case objects).
  function principal(label, manifest) {
    const [kind, id] = splitLabel(label);
    if (kind === "member") return manifest.members.find((m) => m.id === id) || null;
    if (kind === "archive" && manifest.archive && manifest.archive.id === id) {
      return manifest.archive;
    }
    return null;
  }

  // Keys that may have signed an object from `sender` in a key epoch that began under manifest
  // version `since` (reader.py _sender_keys, Manifest.sender_keys): the reporter's key from
  // inside the report; for a member or the archive recipient, the current key and every key
  // the manifest retired only after that version (none when the version is unknown).
  function senderKeys(sender, report, manifest, since) {
    if (sender === REPORTER) return report ? [report.signKey] : [];
    const [kind] = splitLabel(sender);
    if (kind !== "member" && kind !== "archive") return [];
    const keys = [];
    const current = principal(sender, manifest);
    if (current) keys.push(current.signKey);
    if (since !== null) {
      for (const r of manifest.retired) {
        if (r.label === sender && r.untilVersion > since) keys.push(r.signKey);
      }
    }
    return keys;
  }

  function signedByAny(keys, env) {
    const fields = signedFields(env);
    return keys.some((key) => verifies(key, env.sig, MESSAGE_CONTEXT, ...fields));
  }

  // How the page names a sender: a current member or the archive recipient by the name in the
  // manifest; a label that only the manifest's retired keys know is a former one.
  function senderOf(sender, manifest) {
    if (sender === REPORTER) return { role: "reporter", name: null };
    const [kind] = splitLabel(sender);
    const found = principal(sender, manifest);
    if (found) return { role: kind, name: found.name };
    if (manifest.retired.some((r) => r.label === sender)) return { role: "former", name: null };
    return { role: null, name: null };
  }

  function parseReport(plaintext, caseId) {
    let report;
    let sig;
    try {
      const data = jsonOf(plaintext);
      if (data.format !== REPORT_FORMAT) fail("envelope", "The report has an unknown format.");
      const labels = data.recipients.labels;
      if (
        typeof data.channel !== "string" ||
        typeof data.text !== "string" ||
        !data.answers ||
        typeof data.answers !== "object" ||
        Array.isArray(data.answers) ||
        !Array.isArray(labels) ||
        !labels.every((l) => typeof l === "string") ||
        !isInteger(data.recipients.manifest_version)
      ) {
        fail("envelope", "The report inside the envelope is malformed.");
      }
      report = {
        channel: data.channel,
        text: data.text,
        answers: data.answers,
        replyKey: b64d(data.reply_key, 32, "reply key"),
        signKey: b64d(data.sign_key, 32, "signing key"),
        recipients: labels,
        manifestVersion: data.recipients.manifest_version,
        attachments: Array.isArray(data.attachments) ? data.attachments : [],
      };
      sig = b64d(data.recipients.sig, 64, "recipient signature");
    } catch {
      return fail("envelope", "The report inside the envelope is malformed.");
    }
    const fields = recipientsFields(caseId, report.manifestVersion, report.recipients);
    if (!verifies(report.signKey, sig, RECIPIENTS_CONTEXT, ...fields)) {
      fail("signature", "The reporter's recipient list is not signed correctly.");
    }
    return report;
  }

  function recordInteger(value, low) {
    if (!isInteger(value) || value < low || value >= MAX_U32) {
      fail("envelope", "The epoch record is malformed.");
    }
    return value;
  }

  // An epoch record (protocol 7.4), read exactly as strictly as casefile.parse_epoch: every
  // member has its type, `thread_keys` names only epochs before this one, `heads` names the two
  // chains. The committee's key history stays sealed: the reporter never holds its key.
  function parseEpochRecord(plaintext, epoch) {
    let data;
    try {
      data = jsonOf(plaintext);
    } catch (error) {
      if (!unreadable(error)) throw error;
      fail("envelope", "The epoch record is malformed.");
    }
    if (
      !isPlainObject(data) ||
      data.format !== EPOCH_FORMAT ||
      recordInteger(data.epoch, 1) !== epoch
    ) {
      fail("envelope", "The epoch record does not describe this epoch.");
    }
    const labels = data.recipients;
    const heads = data.heads;
    if (
      !Array.isArray(labels) ||
      !labels.every((l) => typeof l === "string") ||
      !isPlainObject(data.thread_keys) ||
      typeof data.committee_keys !== "string" ||
      !isPlainObject(heads) ||
      Object.keys(heads).sort().join(",") !== HEAD_CHAINS.join(",")
    ) {
      fail("envelope", "The epoch record is malformed.");
    }
    const earlier = new Map();
    for (const [e, k] of Object.entries(data.thread_keys)) {
      if (!/^(0|[1-9][0-9]*)$/.test(e) || Number(e) >= epoch) {
        fail("envelope", "The epoch record names keys of an epoch that is not an earlier one.");
      }
      earlier.set(Number(e), b64d(k, 32, "key"));
    }
    const manifestVersion = recordInteger(data.manifest_version, 1);
    const parsedHeads = new Map();
    for (const chain of HEAD_CHAINS) {
      const head = heads[chain];
      if (!Array.isArray(head) || head.length !== 2) {
        fail("envelope", "The epoch record is malformed.");
      }
      parsedHeads.set(chain, {
        seq: recordInteger(head[0], -1),
        hash: b64d(head[1], 32, "chain head"),
      });
    }
    b64d(data.committee_keys, null, "key history");
    return { labels: [...labels], earlier, manifestVersion, heads: parsedHeads };
  }

  // Every epoch's thread key and the manifest version each epoch began under, from the current
  // epoch's record (reader.py epoch_keys). The record is decrypted with the current thread key
  // first, then its signer verified as of the manifest version the record itself names. The
  // current epoch's key is always the one unwrapped with the reporter's own key. Earlier
  // records only say when their epoch began; each is verified again as an object. Also says
  // who signed the current record if only a key the manifest has retired since verifies it.
  function epochKeys(items, epoch, threadKey, manifest) {
    const byEpoch = new Map([[epoch, threadKey]]);
    const started = new Map();
    let retiredSigner = null;
    const answer = (code, labels = []) => ({
      byEpoch,
      labels,
      started,
      retiredSigner,
      problems: code ? [problemAt(code)] : [],
    });
    if (epoch === 0) return answer(null);
    const records = items.filter((item) => {
      const raw = item.envelope;
      return isPlainObject(raw) && raw.kind === "epoch" && isInteger(raw.epoch) && raw.epoch > 0;
    });
    const current = records.find((item) => item.envelope.epoch === epoch);
    if (!current) return answer("epoch_missing");
    let record;
    try {
      const env = envelopeFromJson(current.envelope);
      record = parseEpochRecord(decryptEnvelope(threadKey, env), epoch);
      const keys = senderKeys(env.sender, null, manifest, record.manifestVersion);
      if (keys.length === 0) return answer("epoch_sender");
      if (!signedByAny(keys, env)) fail("verification", "A signature did not verify.");
      if (!signedByAny(senderKeys(env.sender, null, manifest, null), env)) {
        retiredSigner = env.sender;
      }
    } catch (error) {
      if (!unreadable(error)) throw error;
      return answer("epoch_invalid");
    }
    for (const [e, key] of record.earlier) byEpoch.set(e, key);
    byEpoch.set(epoch, threadKey);
    started.set(epoch, record.manifestVersion);
    for (const item of records) {
      const e = item.envelope.epoch;
      const key = byEpoch.get(e);
      if (started.has(e) || !key) continue; // a second record of an epoch is flagged when read
      try {
        const env = envelopeFromJson(item.envelope);
        started.set(e, parseEpochRecord(decryptEnvelope(key, env), e).manifestVersion);
      } catch (error) {
        if (!unreadable(error)) throw error; // reported when the object itself is read
      }
    }
    return answer(null, record.labels);
  }

  function positionProblem(env, listedSeq, caseId, expected, prev, epoch) {
    if (!equalBytes(env.caseId, caseId) || chainOf(env.kind) !== "thread" || env.seq !== listedSeq) {
      return "moved";
    }
    if (env.seq < expected) return "replayed";
    if (env.seq !== expected) return "missing_before";
    if (!equalBytes(env.prev, prev)) return "reordered";
    if ((env.kind === "report") !== (env.seq === 0)) return "not_report";
    if (env.epoch > epoch) return "future_epoch";
    return null;
  }

  // Epochs never decrease along the thread, and a new epoch begins with its record, once.
  function epochOrderProblem(env, latest) {
    if (env.epoch < latest) return "older_epoch";
    if ((env.kind === "epoch") !== (env.epoch > latest)) return "epoch_out_of_place";
    return null;
  }

  // A committee member's redaction (protocol 7.6): the server lists the redacted version as
  // the object's envelope and the signed record beside it; the object's place in the chain is
  // the original's transcript hash, which the record names (reader.py _redaction_of).
  const REDACTABLE_KINDS = ["report", "message", "note"];
  const REDACTION_FIELDS = ["by", "digest", "hash", "on", "sig"];
  const MAX_REMOVED_FILES = 20;
  const UPLOAD_ID = /^[A-Za-z0-9_-]{22}$/;

  // The attached files a redaction removed (protocol 7.6): upload ids and descriptor digests.
  function removedFiles(listed) {
    if (!Array.isArray(listed) || listed.length < 1 || listed.length > MAX_REMOVED_FILES) {
      fail("envelope", "The redaction record lists from 1 to 20 removed files, or none at all.");
    }
    const files = listed.map((f) => {
      if (!isPlainObject(f) || Object.keys(f).sort().join() !== "digest,id" || typeof f.id !== "string" || !UPLOAD_ID.test(f.id)) {
        fail("envelope", "A removed file in the redaction record is malformed.");
      }
      return { id: f.id, digest: b64d(f.digest, 32, "digest") };
    });
    if (new Set(files.map((f) => f.id)).size !== files.length) {
      fail("envelope", "The redaction record lists the same file twice.");
    }
    return files;
  }

  function redactionOf(item) {
    const r = item.redaction;
    if (r === undefined || r === null) return null;
    const named = isPlainObject(r) ? Object.keys(r).filter((k) => k !== "files") : [];
    if (!isPlainObject(r) || named.sort().join() !== REDACTION_FIELDS.join()) {
      fail("envelope", "The redaction record does not have the expected fields.");
    }
    if (typeof r.on !== "string" || r.on.length !== 10 || typeof r.by !== "string" || r.by.length > 64) {
      fail("envelope", "The redaction record has a malformed day or member.");
    }
    return {
      hash: b64d(r.hash, 32, "hash"),
      digest: b64d(r.digest, 32, "digest"),
      on: r.on,
      by: r.by,
      sig: b64d(r.sig, 64, "signature"),
      files: Object.hasOwn(r, "files") ? removedFiles(r.files) : [],
    };
  }

  // What the member's record signature covers (protocol 7.6); the browser reads the thread only.
  // A record that removed files is signed under its own context, with the files after the rest.
  function redactionFields(env, redaction) {
    const fields = [env.caseId, "thread", u32(env.seq), redaction.hash, redaction.digest, redaction.on, redaction.by];
    if (redaction.files.length > 0) {
      fields.push(u32(redaction.files.length));
      for (const f of redaction.files) fields.push(f.id, f.digest);
    }
    return fields;
  }

  function redactionContext(redaction) {
    return redaction.files.length > 0 ? REDACTION_FILES_CONTEXT : REDACTION_CONTEXT;
  }

  // The redacted version counts only with its record, both signed by the committee member the
  // record names (reader.py _redaction_verifies, redaction.py check_redacted).
  function redactionVerifies(read, env, redaction, manifest, since) {
    const keys = redaction.by.startsWith("member:") ? senderKeys(redaction.by, null, manifest, since) : [];
    const fields = redactionFields(env, redaction);
    const valid =
      REDACTABLE_KINDS.includes(env.kind) &&
      equalBytes(redaction.digest, transcriptHash(env)) &&
      signedByAny(keys, env) &&
      keys.some((key) => verifies(key, redaction.sig, redactionContext(redaction), ...fields));
    if (!valid) {
      read.problem = read.problem || "redaction_invalid";
      return false;
    }
    read.redacted = { on: redaction.on, by: redaction.by, filesRemoved: redaction.files.length };
    return true;
  }

  function openReportInto(read, env, key, caseId) {
    let report;
    try {
      const plaintext = decryptEnvelope(key, env);
      report = parseReport(plaintext, caseId);
    } catch (error) {
      if (!(error instanceof SafeVoiceCryptoError)) throw error;
      const found = { envelope: "malformed", signature: "bad_signature" }[error.reason];
      read.problem = read.problem || found || "undecryptable";
      return null;
    }
    // A redacted version is signed by the member who redacted it, checked with its record.
    if (!read.redacted && !verifies(report.signKey, env.sig, MESSAGE_CONTEXT, ...signedFields(env))) {
      read.problem = read.problem || "bad_signature";
      return null;
    }
    read.body = { text: report.text, answers: report.answers, attachments: report.attachments };
    read.verified = read.problem === null;
    return report;
  }

  function openObjectInto(read, env, key, report, manifest, since) {
    const keys = senderKeys(env.sender, report, manifest, since);
    if (keys.length === 0) {
      read.problem = read.problem || "unknown_sender";
      return;
    }
    if (!read.redacted && !signedByAny(keys, env)) {
      read.problem = read.problem || "bad_signature";
      return;
    }
    let plaintext;
    try {
      plaintext = decryptEnvelope(key, env);
    } catch (error) {
      if (!(error instanceof SafeVoiceCryptoError)) throw error;
      read.problem = read.problem || "undecryptable";
      return;
    }
    let body = null;
    try {
      body = jsonOf(plaintext);
    } catch (error) {
      if (!unreadable(error)) throw error;
    }
    if (!isPlainObject(body)) {
      read.problem = read.problem || "unreadable_content";
      return;
    }
    if (env.kind === "epoch") {
      try {
        read.record = parseEpochRecord(plaintext, env.epoch);
      } catch (error) {
        if (!unreadable(error)) throw error;
        read.problem = read.problem || "unreadable_content";
        return;
      }
    }
    read.body = body;
    read.verified = read.problem === null;
  }

  // Each verified epoch record names the thread's head its author verified: the object there
  // must be the one it names, and everything after it must be in that epoch or later, so
  // nothing signed with a key retired since can be slipped in behind the re-key. Objects are
  // placed by the position they claim (as reader.py does), and shown where they are listed.
  function epochHeadProblems(objects) {
    const problems = [];
    const byPosition = new Map(objects.map((o) => [o.position, o]));
    for (const read of objects) {
      if (!read.record || !read.verified) continue;
      const head = read.record.heads.get("thread");
      const named = byPosition.get(head.seq);
      if (head.seq >= 0 && (!named || !equalBytes(named.hash, head.hash))) {
        problems.push(problemAt("epoch_history", read.seq));
      }
      const late = objects.find((o) => o.position > head.seq && o.epoch < read.epoch);
      if (late) problems.push(problemAt("epoch_late", late.seq));
    }
    return problems;
  }

  // Each epoch began under a manifest no older than the epoch before it and none newer than
  // the one this page verified: a record claiming an older version would make keys retired
  // since then count again.
  function epochVersionProblems(began, manifest) {
    const problems = [];
    let highest = 0;
    for (const epoch of [...began.keys()].sort((a, b) => a - b)) {
      const version = began.get(epoch);
      if (version > manifest.version) problems.push(problemAt("epoch_rollback"));
      if (version < highest) problems.push(problemAt("epoch_version"));
      highest = Math.max(highest, version);
    }
    return problems;
  }

  // What the committee signed about the case (protocol 7.4): the status and outcome of the
  // last verified status object, the day of acknowledgement, the day of receipt and intake
  // mode the first signed status attests (later ones must agree), and the feedback deadline
  // the last status that named one promised. The page shows these, never
  // the server's fields, which serverFieldProblems only compares (Python: signed_state).
  const STATUSES = ["acknowledged", "investigating", "action_planned", "closed"];

  function textField(body, name) {
    return typeof body[name] === "string" ? body[name] : null;
  }

  function signedState(objects) {
    let signed = {
      status: "received",
      outcome: null,
      acknowledgedOn: null,
      changedOn: null,
      receivedOn: null,
      intakeMode: null,
      feedbackDue: null,
      seq: null,
    };
    const problems = [];
    for (const o of objects) {
      if (o.kind !== "status" || !o.verified) continue;
      const status = textField(o.body, "status");
      if (!STATUSES.includes(status)) {
        problems.push(problemAt("status_invalid", o.seq));
        continue;
      }
      const received = textField(o.body, "received_on");
      const intake = textField(o.body, "intake_mode");
      if (received !== null && signed.receivedOn !== null && signed.receivedOn !== received) {
        problems.push(problemAt("received_conflict", o.seq));
      }
      if (intake !== null && signed.intakeMode !== null && signed.intakeMode !== intake) {
        problems.push(problemAt("intake_conflict", o.seq));
      }
      const on = textField(o.body, "on");
      signed = {
        status,
        outcome: status === "closed" ? textField(o.body, "outcome") : null,
        acknowledgedOn: status === "acknowledged" ? on : signed.acknowledgedOn,
        changedOn: on,
        receivedOn: signed.receivedOn || received,
        intakeMode: signed.intakeMode || intake,
        feedbackDue: textField(o.body, "feedback_due") || signed.feedbackDue,
        seq: o.seq,
      };
    }
    return { signed, problems };
  }

  // Where the server's fields (of the reporter's view) disagree with what is signed.
  function serverFieldProblems(signed, c) {
    const problems = [];
    if (c.status !== signed.status) problems.push(problemAt("status_unsigned"));
    if (c.acknowledged_on !== null && signed.acknowledgedOn === null) {
      problems.push(problemAt("unsigned_ack"));
    }
    if (signed.receivedOn !== null && c.received_on !== signed.receivedOn) {
      problems.push(problemAt("received_unsigned"));
    }
    if (signed.feedbackDue !== null && c.feedback_due_on !== signed.feedbackDue) {
      problems.push(problemAt("feedback_unsigned"));
    }
    return problems;
  }

  // Read the reporter's view (GET /api/v1/reporter/case) with the keys derived from the code.
  // Throws only when the thread cannot be opened at all (no wrapped key for this code).
  function readThread(view, reporter, manifest) {
    const caseId = b64d(view.case.id, 16, "case id");
    const epoch = view.case.epoch;
    if (!isInteger(epoch) || epoch < 0) fail("verification", "The case has a malformed epoch.");
    const wrapped = view.wrapped_keys.find((w) => w.epoch === epoch && w.recipient === REPORTER);
    if (!wrapped) fail("no_key", "The server sent no key for you for this case.");
    const current = unwrapCaseKeys(reporter.replySecret, b64d(wrapped.sealed, null, "wrapped key"), {
      caseId,
      epoch,
      recipient: REPORTER,
    });
    const items = view.objects.filter((o) => o.chain === "thread").sort((a, b) => a.seq - b.seq);
    const found = epochKeys(items, epoch, current.thread, manifest);
    const problems = [...found.problems];
    const objects = [];
    let report = null;
    let prev = GENESIS;
    let expected = 0;
    let latest = 0;
    for (const item of items) {
      let env;
      try {
        env = envelopeFromJson(item.envelope);
      } catch (error) {
        if (!(error instanceof SafeVoiceCryptoError)) throw error;
        problems.push(problemAt("malformed", item.seq));
        continue;
      }
      // `seq` is where the server listed the object, which is where the reader shows it (and
      // where a problem is reported); the position the object itself claims is checked above.
      const sender = senderOf(env.sender, manifest);
      const read = {
        seq: item.seq,
        position: env.seq,
        kind: env.kind,
        sender: env.sender,
        senderName: sender.name,
        senderRole: sender.role,
        epoch: env.epoch,
        verified: false,
        hash: transcriptHash(env),
        body: {},
        record: null,
        redacted: null,
        problem:
          positionProblem(env, item.seq, caseId, expected, prev, epoch) ||
          epochOrderProblem(env, latest),
      };
      objects.push(read);
      let redaction = null;
      try {
        redaction = redactionOf(item);
        if (redaction) read.hash = redaction.hash;
      } catch (error) {
        if (!(error instanceof SafeVoiceCryptoError)) throw error;
        read.problem = read.problem || "redaction_invalid";
      }
      const key = found.byEpoch.get(env.epoch);
      let since = null;
      if (env.epoch > 0 && found.started.has(env.epoch)) since = found.started.get(env.epoch);
      else if (env.epoch === 0 && report) since = report.manifestVersion;
      if (!key) {
        read.problem = read.problem || "no_key_for_part";
      } else if (redaction === null || redactionVerifies(read, env, redaction, manifest, since)) {
        if (env.kind === "report") report = openReportInto(read, env, key, caseId) || report;
        else openObjectInto(read, env, key, report, manifest, since);
      }
      if (read.problem) {
        const before = read.problem === "missing_before" ? expected : null;
        problems.push(problemAt(read.problem, read.seq, before));
      }
      prev = read.hash;
      expected = env.seq + 1;
      latest = Math.max(latest, env.epoch);
    }
    problems.push(...epochHeadProblems(objects));
    const began = new Map(report ? [[0, report.manifestVersion]] : []);
    for (const [e, version] of found.started) began.set(e, version);
    problems.push(...epochVersionProblems(began, manifest));
    if (report && found.labels.length) {
      const chosen = new Set([...report.recipients, REPORTER]);
      if (!found.labels.every((label) => chosen.has(label))) problems.push(problemAt("epoch_outsider"));
    }
    if (report && !equalBytes(report.signKey, reporter.signPublic)) {
      problems.push(problemAt("not_yours"));
    }
    if (!report && problems.length === 0) problems.push(problemAt("no_report"));
    const fromStatuses = signedState(objects);
    const signed = fromStatuses.signed;
    problems.push(...fromStatuses.problems, ...serverFieldProblems(signed, view.case));
    const acknowledged = signed.acknowledgedOn !== null;
    // Recipients of the current epoch whose key the manifest retired after the epoch began,
    // and the current record's signer if only a retired key of theirs signed it (the record's
    // recipients are only its signer's word): whoever holds such a key may hold this epoch's
    // keys, so the reporter writes nothing until the case is re-keyed (the server holds such
    // a case too; this does not rely on it).
    let recipients = [];
    if (epoch > 0) recipients = found.labels;
    else if (report) recipients = [...report.recipients, REPORTER];
    const since = began.has(epoch) ? began.get(epoch) : null;
    const held = new Set();
    if (since !== null) {
      for (const r of manifest.retired) {
        if (recipients.includes(r.label) && r.untilVersion > since) held.add(r.label);
      }
      if (found.retiredSigner !== null) held.add(found.retiredSigner);
    }
    const heldBy = [...held].sort(compareCodePoints);
    return {
      caseId,
      epoch,
      threadKey: current.thread,
      report,
      objects,
      problems,
      acknowledged,
      signed,
      heldBy,
      head: { seq: expected - 1, hash: prev },
    };
  }

  // --- receipts (protocol 8) ---

  function receiptFields(r) {
    return [utf8(r.instance_id), utf8(r.case_id), b64d(r.report_hash, 32), utf8(r.day)];
  }

  function verifyReceipt(receipt, instanceKey) {
    try {
      return verifies(instanceKey, b64d(receipt.sig, 64), RECEIPT_CONTEXT, ...receiptFields(receipt));
    } catch {
      return false;
    }
  }

  // --- proof of work (protocol 9) ---

  function parseChallenge(token) {
    const raw = b64d(token, CHALLENGE_BYTES, "challenge");
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const purpose = Object.keys(PURPOSES).find((p) => PURPOSES[p] === raw[1]);
    if (raw[0] !== 1 || purpose === undefined) fail("challenge", "The challenge is malformed.");
    return {
      purpose,
      difficulty: raw[2],
      expires: Number(view.getBigUint64(3, false)),
      nonce: raw.slice(11, 27),
      raw,
    };
  }

  function work(challenge, solution) {
    return sodium.crypto_pwhash(
      32,
      lp(POW_CONTEXT, challenge.raw, solution),
      challenge.nonce,
      WORK_OPSLIMIT,
      WORK_MEMLIMIT,
      sodium.crypto_pwhash_ALG_ARGON2ID13,
    );
  }

  function leadingZeroBits(digest) {
    let bits = 0;
    for (const byte of digest) {
      if (byte === 0) {
        bits += 8;
        continue;
      }
      return bits + Math.clz32(byte) - 24;
    }
    return bits;
  }

  // A solution is counter (8 bytes) ‖ stamp (8 bytes); protocol 9.4.
  function stampDigest(challenge, counter, stamp) {
    return blake2b(lp(STAMP_CONTEXT, challenge.raw, counter, stamp));
  }

  function solves(challenge, solution) {
    if (solution.length !== 16) return false;
    if (challenge.difficulty === 0) return true;
    const counter = solution.slice(0, 8);
    if (leadingZeroBits(stampDigest(challenge, counter, solution.slice(8))) < STAMP_BITS) return false;
    return leadingZeroBits(work(challenge, counter)) >= challenge.difficulty;
  }

  // Whether one counter passes the Argon2id stage (about 2**difficulty counters to try).
  function counterWorks(challenge, counter) {
    return challenge.difficulty === 0 || leadingZeroBits(work(challenge, counter)) >= challenge.difficulty;
  }

  // The stamp for a counter that works: about 2**STAMP_BITS BLAKE2b, once per solution.
  function findStamp(challenge, counter) {
    if (challenge.difficulty === 0) return new Uint8Array(8);
    const start = randomBytes(8);
    start[0] &= 0x7f;
    let value = new DataView(start.buffer, start.byteOffset, 8).getBigUint64(0, false);
    for (;;) {
      const stamp = u64(value);
      if (leadingZeroBits(stampDigest(challenge, counter, stamp)) >= STAMP_BITS) return stamp;
      value += 1n;
    }
  }

  // The solution to send for a counter that works: counter ‖ its stamp, base64url.
  function stampedSolution(challenge, counter) {
    return b64e(concat(counter, findStamp(challenge, counter)));
  }

  // Search from a random 63-bit counter; onAttempt(n) after each attempt lets the caller show
  // progress (about 2**difficulty attempts are expected).
  function solveChallenge(challenge, onAttempt = () => {}) {
    const start = randomBytes(8);
    start[0] &= 0x7f;
    let counter = new DataView(start.buffer, start.byteOffset, 8).getBigUint64(0, false);
    for (let attempt = 1; ; attempt += 1) {
      const candidate = u64(counter);
      if (counterWorks(challenge, candidate)) return stampedSolution(challenge, candidate);
      onAttempt(attempt);
      counter += 1n;
    }
  }

  // --- challenge signatures (protocol 10), for logging in with a key ---

  function loginSignature(seed, instanceId, challenge) {
    return sign(seed, LOGIN_CONTEXT, instanceId, challenge.raw, u64(challenge.expires));
  }

  // --- pulse surveys (protocol 16) ---

  const SURVEY_CONTEXT = "safevoice-survey-v1";
  const SURVEY_ANSWER_SUITE = "safevoice-survey-answer-v1";
  const SURVEY_KEY_CONTEXT = "safevoice-survey-key-v1";
  const SURVEY_MAX_FREE_TEXT = 2000;

  // A survey document in its wire form, checked against its author's key in the verified
  // manifest (protocol 16.1). Returns the parsed survey; a forged one is refused.
  function verifySurvey(wire, manifest) {
    let payload;
    let sig;
    try {
      payload = b64d(wire.payload, null, "survey");
      sig = b64d(wire.sig, 64, "survey signature");
    } catch {
      fail("survey", "The survey is malformed.");
    }
    const signer = typeof wire.signer === "string" ? wire.signer : "";
    const [kind, id] = splitLabel(signer);
    const current = manifest.members.find((m) => m.id === id);
    const keys = [
      ...(current ? [current.signKey] : []),
      ...manifest.retired.filter((r) => r.label === signer).map((r) => r.signKey),
    ];
    if (kind !== "member" || !keys.some((k) => verifies(k, sig, SURVEY_CONTEXT, payload))) {
      fail("survey", "The survey is not signed by a committee member.");
    }
    let data;
    try {
      data = JSON.parse(strictDecoder.decode(payload));
    } catch {
      fail("survey", "The survey is malformed.");
    }
    if (!data || data.format !== "safevoice-survey-v1" || !equalBytes(canonicalJson(data), payload)) {
      fail("survey", "The survey was re-serialised or has an unknown format.");
    }
    if (data.author !== id || data.instance_id !== manifest.instanceId) {
      fail("survey", "The survey was signed by someone else than its author, or elsewhere.");
    }
    const texts = Array.isArray(data.questions) ? data.questions : [];
    if (texts.length < 1 || texts.length > 20 || !texts.every((q) => typeof q === "string")) {
      fail("survey", "The survey's questions are malformed.");
    }
    return {
      surveyId: requireString(data.survey_id),
      instanceId: data.instance_id,
      title: requireString(data.title),
      opensOn: requireString(data.opens_on),
      closesOn: requireString(data.closes_on),
      questions: texts,
      freeText: typeof data.free_text === "string" ? data.free_text : null,
    };
  }

  // Encrypt one answer to every committee member of the manifest (protocol 16.2).
  function sealSurveyAnswer(survey, manifest, { scores, freeText }) {
    if (scores.length !== survey.questions.length) fail("survey", "One score per question.");
    if (!scores.every((s) => s === null || [1, 2, 3, 4, 5].includes(s))) {
      fail("survey", "Each score is a whole number from 1 to 5.");
    }
    const text = survey.freeText === null ? "" : freeText || "";
    if ([...text].length > SURVEY_MAX_FREE_TEXT) fail("too_large", "The free text is too long.");
    const plaintext = canonicalJson({ scores, free_text: text });
    const key = randomBytes(32);
    const nonce = randomBytes(24);
    const ad = lp(SURVEY_ANSWER_SUITE, survey.instanceId, survey.surveyId);
    const ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(pad(plaintext), ad, null, nonce, key);
    const wraps = manifest.members
      .map((m) => memberLabel(m.id))
      .sort(compareCodePoints)
      .map((label) => {
        const m = manifest.members.find((x) => memberLabel(x.id) === label);
        const plain = lp(SURVEY_KEY_CONTEXT, survey.instanceId, survey.surveyId, label, key);
        return { recipient: label, sealed: b64e(sodium.crypto_box_seal(plain, m.boxKey)) };
      });
    key.fill(0);
    return { nonce: b64e(nonce), ct: b64e(ct), wraps };
  }

  return {
    SafeVoiceCryptoError,
    GENESIS,
    MAX_PLAINTEXT,
    PAD_BUCKETS,
    utf8,
    b64e,
    b64d,
    hex,
    u32,
    u64,
    lp,
    splitLp,
    canonicalJson,
    blake2b,
    fingerprint,
    formatFingerprint,
    parseFingerprint,
    sign,
    verifies,
    verifyManifest,
    currentCodeKdf,
    codeKdfFor,
    receiptKey,
    generateCode,
    displayCode,
    parseCode,
    stretchCode,
    deriveReporterKeys,
    reporterKeysFromStretched,
    pad,
    unpad,
    keyCommitment,
    associatedData,
    transcriptHash,
    sealEnvelope,
    envelopeToJson,
    envelopeFromJson,
    decryptEnvelope,
    openEnvelope,
    wrapPlaintext,
    wrapCaseKeys,
    unwrapCaseKeys,
    recipientsFields,
    newCaseId,
    createCase,
    submissionCase,
    messagePlaintext,
    FILE_CHUNK_PLAINTEXT,
    FILE_CHUNK_CIPHERTEXT,
    fileChunkCount,
    createFileEncryptor,
    createFileDecryptor,
    parseAttachment,
    readThread,
    redactionOf,
    redactionFields,
    redactionContext,
    signedState,
    serverFieldProblems,
    verifyReceipt,
    parseChallenge,
    work,
    solves,
    counterWorks,
    findStamp,
    stampDigest,
    stampedSolution,
    solveChallenge,
    loginSignature,
    verifySurvey,
    sealSurveyAnswer,
  };
}

// The reporter pages' cryptography (src/safevoice/web/assets/crypto.js, with the libsodium.js
// the bundle ships) reproduces every known-answer vector of tests/vectors/crypto-v1.json that a
// browser client computes. Run by tests/web/test_browser_crypto.py; prints one line per group
// and exits non-zero on the first mismatch.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadCrypto, root } from "./load.mjs";

const { sodium, createCrypto, sv } = await loadCrypto();
const vectors = JSON.parse(readFileSync(path.join(root, "tests", "vectors", "crypto-v1.json"), "utf8"));
const h = (text) => sodium.from_hex(text);
const x = (bytes) => sodium.to_hex(bytes);

function fixedRandom(...values) {
  const queue = values.map((v) => Uint8Array.from(v));
  return (size) => {
    const next = queue.shift();
    assert.ok(next, "more randomness drawn than the vector provides");
    assert.equal(next.length, size);
    return next;
  };
}

function throwsReason(fn, reason) {
  assert.throws(fn, (error) => error instanceof sv.SafeVoiceCryptoError && error.reason === reason);
}

const checks = {
  base64url(group) {
    for (const v of group.valid) {
      assert.equal(sv.b64e(h(v.bytes_hex)), v.text);
      assert.equal(x(sv.b64d(v.text)), v.bytes_hex);
    }
    for (const v of group.invalid) throwsReason(() => sv.b64d(v.text), "encoding");
  },
  lp(group) {
    for (const v of group.vectors) {
      const encoded = sv.lp(...v.fields_hex.map(h));
      assert.equal(x(encoded), v.encoded_hex);
      assert.deepEqual(sv.splitLp(encoded).map(x), v.fields_hex);
    }
    throwsReason(() => sv.splitLp(h("0000000501")), "encoding");
  },
  fingerprint(group) {
    for (const v of group.vectors) {
      const box = v.box_key_hex ? h(v.box_key_hex) : null;
      const fp = sv.fingerprint(v.kind, box, h(v.sign_key_hex));
      assert.equal(fp, v.fingerprint);
      assert.equal(sv.formatFingerprint(fp), v.display);
      assert.equal(sv.parseFingerprint(v.display), v.fingerprint);
    }
  },
  signature(group) {
    for (const v of group.vectors) {
      const fields = v.fields_hex.map(h);
      assert.equal(x(sv.lp(v.context, ...fields)), v.message_hex);
      const sig = sv.sign(h(v.seed_hex), v.context, ...fields);
      assert.equal(x(sig), v.signature_hex);
      assert.ok(sv.verifies(h(v.public_key_hex), sig, v.context, ...fields));
      assert.ok(!sv.verifies(h(v.public_key_hex), sig, `${v.context}x`, ...fields));
    }
  },
  follow_up_code(group) {
    for (const v of group.generate) {
      assert.equal(sv.generateCode(v.version, h(v.randomness_hex)), v.display);
      assert.equal(sv.parseCode(v.display).canonical, v.canonical);
    }
    for (const v of group.normalise) {
      const parsed = sv.parseCode(v.input);
      assert.equal(parsed.canonical, v.canonical);
      assert.equal(parsed.version, v.version);
    }
    for (const v of group.reject) throwsReason(() => sv.parseCode(v.input), "code");
    for (const v of group.derive) {
      const params = { salt: h(v.salt_hex), opslimit: v.opslimit, memlimit: v.memlimit };
      const parsed = sv.parseCode(v.code);
      assert.equal(x(sv.stretchCode(parsed, params)), v.stretched_hex);
      const keys = sv.deriveReporterKeys(parsed, params);
      assert.equal(x(keys.replySecret), v.reply_secret_hex);
      assert.equal(x(keys.replyPublic), v.reply_public_hex);
      assert.equal(x(keys.signSeed), v.sign_seed_hex);
      assert.equal(x(keys.signPublic), v.sign_public_hex);
    }
  },
  padding(group) {
    assert.deepEqual(sv.PAD_BUCKETS, group.buckets);
    assert.equal(sv.MAX_PLAINTEXT, group.max_plaintext);
    for (const v of group.vectors) {
      const padded = sv.pad(new Uint8Array(v.plaintext_length));
      assert.equal(padded.length, v.padded_length);
      assert.equal(sv.unpad(padded).length, v.plaintext_length);
    }
    const example = sv.pad(h(group.example.plaintext_hex));
    assert.equal(example.length, group.example.padded_length);
    assert.ok(x(example).startsWith(group.example.padded_hex_prefix));
    assert.ok(example.slice(group.example.padded_hex_prefix.length / 2).every((b) => b === 0));
    throwsReason(() => sv.pad(new Uint8Array(group.max_plaintext + 1)), "too_large");
  },
  key_commitment(group) {
    for (const v of group.vectors) {
      assert.equal(x(sv.keyCommitment(h(v.key_hex), h(v.nonce_hex))), v.commitment_hex);
    }
  },
  envelope(group) {
    for (const v of group.vectors) {
      const seal = createCrypto(sodium, { randomBytes: fixedRandom(h(v.nonce_hex)) });
      const env = seal.sealEnvelope(h(v.key_hex), sv.utf8(v.plaintext), {
        caseId: h(v.case_id_hex),
        kind: v.kind,
        sender: v.sender,
        seq: v.seq,
        prev: h(v.prev_hex),
        epoch: v.epoch,
        signSeed: h(v.sign_seed_hex),
      });
      assert.equal(x(sv.associatedData(env)), v.associated_data_hex);
      assert.equal(x(env.keyCommit), v.key_commit_hex);
      assert.equal(x(env.ct), v.ciphertext_hex);
      assert.equal(x(env.sig), v.signature_hex);
      assert.equal(x(sv.transcriptHash(env)), v.transcript_hash_hex);
      assert.deepEqual(sv.envelopeToJson(env), v.wire);
      const parsed = sv.envelopeFromJson(v.wire);
      const opened = sv.openEnvelope(h(v.key_hex), parsed, h(v.sign_public_hex));
      assert.equal(new TextDecoder().decode(opened), v.plaintext);
      const moved = sv.envelopeFromJson({ ...v.wire, seq: v.seq + 1 });
      throwsReason(() => sv.openEnvelope(h(v.key_hex), moved, h(v.sign_public_hex)), "verification");
      throwsReason(() => sv.envelopeFromJson({ ...v.wire, extra: 1 }), "envelope");
    }
  },
  wrapped_key(group) {
    for (const v of group.vectors) {
      const keys = {
        caseId: h(v.case_id_hex),
        epoch: v.epoch,
        recipient: v.recipient,
        thread: h(v.thread_key_hex),
        committee: v.committee_key_hex ? h(v.committee_key_hex) : null,
      };
      assert.equal(x(sv.wrapPlaintext(keys)), v.plaintext_hex);
      const secret = h(v.recipient_box_secret_hex);
      const opened = sv.unwrapCaseKeys(secret, h(v.sealed_hex), keys);
      assert.equal(x(opened.thread), v.thread_key_hex);
      assert.equal(opened.committee ? x(opened.committee) : null, v.committee_key_hex);
      const fresh = sv.wrapCaseKeys(h(v.recipient_box_public_hex), keys);
      assert.equal(fresh.length, v.sealed_size);
      assert.equal(x(sv.unwrapCaseKeys(secret, fresh, keys).thread), v.thread_key_hex);
      throwsReason(
        () => sv.unwrapCaseKeys(secret, h(v.sealed_hex), { ...keys, epoch: v.epoch + 1 }),
        "verification",
      );
    }
  },
  manifest(group) {
    for (const v of group.vectors) {
      const now = Date.parse(v.verify_at);
      const manifest = sv.verifyManifest(v.wire, { pin: v.verify_with_pin, now });
      assert.equal(manifest.digest, v.digest);
      assert.equal(manifest.pinAfter, v.pin_after);
      assert.equal(new TextDecoder().decode(sv.b64d(v.wire.payload)), v.payload_text);
      const stranger = "0".repeat(40);
      throwsReason(() => sv.verifyManifest(v.wire, { pin: stranger, now }), "pin");
      throwsReason(() => sv.verifyManifest(v.wire, { pin: v.verify_with_pin, now: Date.parse("2031-01-01T00:00:00Z") }), "expired");
      const spaced = sv.b64e(sv.utf8(v.payload_text.replace(":", ": ")));
      throwsReason(() => sv.verifyManifest({ ...v.wire, payload: spaced }, { pin: v.verify_with_pin, now }), "pin");
    }
  },
  proof_of_work(group) {
    for (const v of group.vectors) {
      const challenge = sv.parseChallenge(v.token);
      assert.equal(challenge.purpose, v.purpose);
      assert.equal(challenge.difficulty, v.difficulty);
      assert.equal(challenge.expires, v.expires);
      assert.equal(x(challenge.nonce), v.nonce_hex);
      assert.equal(x(challenge.raw), v.body_hex + v.mac_hex);
      for (const s of [v.solution, v.not_a_solution, v.bad_stamp]) {
        const raw = sv.b64d(s.solution, 16);
        const counter = raw.slice(0, 8);
        const stamp = raw.slice(8);
        assert.equal(x(sv.lp("safevoice-pow-v1", challenge.raw, counter)), s.work_input_hex);
        assert.equal(x(sv.work(challenge, counter)), s.work_output_hex);
        assert.equal(x(sv.lp("safevoice-pow-stamp-v1", challenge.raw, counter, stamp)), s.stamp_input_hex);
        assert.equal(x(sv.stampDigest(challenge, counter, stamp)), s.stamp_digest_hex);
        assert.equal(sv.solves(challenge, raw), s.solves);
      }
      const found = sv.b64d(sv.solveChallenge(challenge), 16);
      assert.ok(sv.solves(challenge, found));
    }
  },
  login(group) {
    for (const v of group.vectors) {
      const challenge = sv.parseChallenge(v.challenge_token);
      assert.equal(challenge.expires, v.expires);
      const sig = sv.loginSignature(h(v.seed_hex), v.instance_id, challenge);
      assert.equal(x(sig), v.signature_hex);
    }
  },
  receipt(group) {
    for (const v of group.vectors) {
      const key = h(v.instance_public_hex);
      assert.ok(sv.verifyReceipt(v.wire, key));
      assert.ok(!sv.verifyReceipt({ ...v.wire, day: "2030-02-02" }, key));
      assert.ok(!sv.verifyReceipt({ ...v.wire, sig: "AA" }, key));
    }
  },
  signed_status(group) {
    for (const v of group.vectors) {
      const objects = v.statuses.map((o) => ({ ...o, kind: "status" }));
      const { signed, problems } = sv.signedState(objects);
      assert.deepEqual(
        {
          status: signed.status,
          outcome: signed.outcome,
          acknowledged_on: signed.acknowledgedOn,
          changed_on: signed.changedOn,
          received_on: signed.receivedOn,
          intake_mode: signed.intakeMode,
          feedback_due: signed.feedbackDue,
          seq: signed.seq,
        },
        v.signed,
        v.name,
      );
      const all = [...problems, ...sv.serverFieldProblems(signed, v.server)];
      assert.deepEqual(
        all.map((p) => [p.code, p.seq]),
        v.problems,
        v.name,
      );
    }
  },
  redaction(group) {
    for (const v of group.vectors) {
      const seal = createCrypto(sodium, { randomBytes: fixedRandom(h(v.nonce_hex)) });
      const original = sv.envelopeFromJson(v.original);
      const env = seal.sealEnvelope(h(v.key_hex), sv.utf8(v.plaintext), {
        caseId: original.caseId,
        kind: original.kind,
        sender: original.sender,
        seq: original.seq,
        prev: original.prev,
        epoch: original.epoch,
        signSeed: h(v.sign_seed_hex),
      });
      assert.deepEqual(sv.envelopeToJson(env), v.redacted);
      const record = sv.redactionOf({ redaction: v.record });
      assert.equal(x(record.hash), x(sv.transcriptHash(original)));
      assert.equal(x(record.digest), x(sv.transcriptHash(env)));
      const fields = sv.redactionFields(env, record);
      assert.equal(sv.redactionContext(record), v.context);
      assert.deepEqual(record.files.map((f) => x(f.digest)), v.descriptor_digests_hex);
      assert.deepEqual(record.files.map((f) => f.id), v.removed.map((d) => d.upload_id));
      assert.equal(x(sv.lp(v.context, ...fields)), v.message_hex);
      const signed = sv.sign(h(v.sign_seed_hex), v.context, ...fields);
      assert.equal(sv.b64e(signed), v.record.sig);
      assert.ok(sv.verifies(h(v.sign_public_hex), record.sig, v.context, ...fields));
      throwsReason(() => sv.redactionOf({ redaction: { ...v.record, extra: 1 } }), "envelope");
      throwsReason(() => sv.redactionOf({ redaction: { ...v.record, files: [] } }), "envelope");
      if (record.files.length > 0) {
        // Without its files, the record's signature covers other bytes: a hidden removal.
        const { files: _files, ...bare } = v.record;
        const hidden = sv.redactionOf({ redaction: bare });
        assert.ok(!sv.verifies(h(v.sign_public_hex), hidden.sig, sv.redactionContext(hidden), ...sv.redactionFields(env, hidden)));
      }
    }
  },
  audit_hash(group) {
    for (const v of group.vectors) {
      const data = sv.utf8("safevoice-audit-v1");
      const joined = new Uint8Array([...data, ...h(v.prev_hex), ...h(v.body_hex)]);
      assert.equal(x(sv.blake2b(joined)), v.hash_hex);
    }
  },
};

const groups = Object.keys(vectors).filter((k) => !["format", "description"].includes(k));
const unchecked = groups.filter((g) => !(g in checks));
assert.deepEqual(unchecked, [], `vector groups without a browser check: ${unchecked}`);
for (const group of groups) {
  checks[group](vectors[group]);
  console.log(`ok ${group} (${(vectors[group].vectors || []).length || "all"})`);
}

// Canonical JSON agrees with Python's json.dumps(sort_keys=True, separators=(",", ":"),
// ensure_ascii=False) on the characters where serialisers usually differ.
assert.equal(
  new TextDecoder().decode(sv.canonicalJson({ b: "\u2028/\u007f\u0001\"\\\n", a: [1, true, null], é: {} })),
  '{"a":[1,true,null],"b":"\u2028/\u007f\\u0001\\"\\\\\\n","é":{}}',
);
// A case id whose base64url text would start with "-" is drawn again (protocol 5.1): the
// server refuses such ids, so without this one report in 64 would be refused.
const dashed = new Uint8Array(16).fill(0xf8);
const fine = new Uint8Array(16).fill(0x07);
assert.equal(sv.b64e(dashed)[0], "-");
const redraw = createCrypto(sodium, { randomBytes: fixedRandom(dashed, fine) });
assert.equal(x(redraw.newCaseId()), x(fine));
console.log("ok case_id");
console.log("all vectors reproduced");

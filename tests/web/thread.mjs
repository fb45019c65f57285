// The browser's reader (crypto.js readThread) on threads built by SafeVoice's Python, intact
// and tampered with. Run by tests/web/test_browser_reader.py with a spec file:
//   {"manifest": <wire>, "pin", "now_ms", "reporter": {"reply_secret_hex", "sign_seed_hex",
//    "sign_public_hex"}, "scenarios": [{"name", "view", "reporter" (optional, as above),
//    "manifest" (optional: another wire, for threads read after a key change)}],
//    "manifests": [{"name", "wire"}] (optional: manifests to verify on their own)}
// Prints one JSON object: for each scenario, the problem codes and what the reader shows, or
// the reason it could not open the thread at all.

import { readFileSync } from "node:fs";
import { loadCrypto } from "./load.mjs";

const { sodium, sv } = await loadCrypto();
const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const verify = (wire) => sv.verifyManifest(wire, { pin: spec.pin, now: spec.now_ms });
const manifest = verify(spec.manifest);
function keysOf(hex) {
  return {
    replySecret: sodium.from_hex(hex.reply_secret_hex),
    signSeed: sodium.from_hex(hex.sign_seed_hex),
    signPublic: sodium.from_hex(hex.sign_public_hex),
  };
}

const results = {};
for (const scenario of spec.scenarios) {
  try {
    const read = sv.readThread(
      scenario.view,
      keysOf(scenario.reporter || spec.reporter),
      scenario.manifest ? verify(scenario.manifest) : manifest,
    );
    results[scenario.name] = {
      problems: read.problems.map((p) => p.code),
      at: read.problems.map((p) => p.seq),
      objects: read.objects.map((o) => ({
        seq: o.seq,
        kind: o.kind,
        sender: o.sender,
        role: o.senderRole,
        name: o.senderName,
        epoch: o.epoch,
        verified: o.verified,
        text: typeof o.body.text === "string" ? o.body.text : null,
        status: typeof o.body.status === "string" ? o.body.status : null,
        redacted: o.redacted,
      })),
      head: read.head.seq,
      acknowledged: read.acknowledged,
      signed: read.signed,
      held_by: read.heldBy,
    };
  } catch (error) {
    if (!(error instanceof sv.SafeVoiceCryptoError)) throw error;
    results[scenario.name] = { error: error.reason };
  }
}
// Manifests that differ only in their retired keys: accepted, or the reason they are not.
const manifests = {};
for (const { name, wire } of spec.manifests || []) {
  try {
    manifests[name] = verify(wire).retired.length;
  } catch (error) {
    if (!(error instanceof sv.SafeVoiceCryptoError)) throw error;
    manifests[name] = error.reason;
  }
}
results.manifests = manifests;
console.log(JSON.stringify(results));

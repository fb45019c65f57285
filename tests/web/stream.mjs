// Attachments made by Python (src/safevoice/crypto/stream.py) open in the browser's crypto.js,
// and files crypto.js encrypts are written for Python to open: the two produce one format.
// Run by tests/web/test_browser_crypto.py with a folder holding spec.json:
//   {"from_python": [{"file_id", "key_hex", "header_hex", "chunks", "plain", "sealed"}],
//    "for_python": [{"file_id", "plain", "sealed"}]}
// Paths are relative to that folder. The answer is written to answer.json beside it.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadCrypto } from "./load.mjs";

const { sodium, sv } = await loadCrypto();
const folder = process.argv[2];
const spec = JSON.parse(readFileSync(path.join(folder, "spec.json"), "utf8"));
const read = (name) => new Uint8Array(readFileSync(path.join(folder, name)));
const CHUNK = sv.FILE_CHUNK_CIPHERTEXT;

function chunksOf(sealed) {
  assert.equal(sealed.length % CHUNK, 0);
  const chunks = [];
  for (let at = 0; at < sealed.length; at += CHUNK) chunks.push(sealed.slice(at, at + CHUNK));
  return chunks;
}

function decrypt(entry, chunks) {
  const opener = sv.createFileDecryptor(
    entry.file_id,
    sodium.from_hex(entry.key_hex),
    sodium.from_hex(entry.header_hex),
    chunks.length,
  );
  const parts = chunks.map((chunk) => opener.update(chunk));
  assert.ok(opener.finished);
  return Buffer.concat(parts);
}

function refused(fn) {
  assert.throws(fn, (error) => error instanceof sv.SafeVoiceCryptoError && error.reason === "verification");
}

for (const entry of spec.from_python) {
  const chunks = chunksOf(read(entry.sealed));
  assert.equal(chunks.length, entry.chunks);
  assert.equal(sv.fileChunkCount(read(entry.plain).length), entry.chunks);
  assert.ok(decrypt(entry, chunks).equals(Buffer.from(read(entry.plain))));
  if (chunks.length > 1) {
    refused(() => decrypt(entry, [chunks[1], chunks[0], ...chunks.slice(2)]));
    refused(() => decrypt(entry, chunks.slice(0, -1)));
    refused(() => decrypt(entry, [...chunks, chunks[chunks.length - 1]]));
  }
  refused(() => decrypt({ ...entry, file_id: `${entry.file_id}x` }, chunks));
  const flipped = chunks.map((c) => c.slice());
  flipped[0][5] ^= 1;
  refused(() => decrypt(entry, flipped));
}
console.log(`ok opened ${spec.from_python.length} files from Python`);

const made = [];
for (const entry of spec.for_python) {
  const plain = read(entry.plain);
  const sealer = sv.createFileEncryptor(entry.file_id);
  const count = sv.fileChunkCount(plain.length);
  const out = [];
  for (let index = 0; index < count; index += 1) {
    const last = index === count - 1;
    const begin = index * sv.FILE_CHUNK_PLAINTEXT;
    const part = plain.slice(begin, last ? plain.length : begin + sv.FILE_CHUNK_PLAINTEXT);
    out.push(sealer.push(part, last));
  }
  assert.ok(out.every((chunk) => chunk.length === CHUNK));
  writeFileSync(path.join(folder, entry.sealed), Buffer.concat(out));
  made.push({
    file_id: entry.file_id,
    key_hex: sodium.to_hex(sealer.key),
    header_hex: sodium.to_hex(sealer.header),
    chunks: count,
    sealed: entry.sealed,
  });
}
writeFileSync(path.join(folder, "answer.json"), JSON.stringify({ made }));
console.log(`ok sealed ${made.length} files for Python`);

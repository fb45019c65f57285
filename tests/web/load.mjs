// Loads libsodium.js (the npm package the release bundle ships) and SafeVoice's crypto.js for
// the Node.js checks of the browser's cryptography (vectors.mjs, stream.mjs, thread.mjs).

import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export async function loadCrypto(options = {}) {
  const require = createRequire(path.join(process.env.SAFEVOICE_NODE_MODULES || root, "x.js"));
  const sodiumPath = require.resolve("libsodium-wrappers-sumo");
  const sodiumEsm = path.join(path.dirname(sodiumPath), "..", "modules-sumo-esm", "libsodium-wrappers.mjs");
  const { default: sodium } = await import(pathToFileURL(sodiumEsm).href);
  await sodium.ready;
  const { createCrypto } = await import(
    pathToFileURL(path.join(root, "src", "safevoice", "web", "assets", "crypto.js")).href
  );
  return { sodium, createCrypto, sv: createCrypto(sodium, options) };
}

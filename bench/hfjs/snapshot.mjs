// bench/hfjs/snapshot.mjs — the peer of bench/manyfiles.sh: Hugging Face's
// JavaScript client (@huggingface/hub, pinned in package.json) downloads a
// snapshot with its own snapshotDownload into a cache directory.
//   node snapshot.mjs HUB_URL ORG/REPO CACHE_DIR [REVISION]
// Prints one line: the snapshot folder and the number of files in it.
// SPDX-License-Identifier: MIT
import { snapshotDownload } from "@huggingface/hub";
import { readdir } from "node:fs/promises";

const [hubUrl, repo, cacheDir, revision = "main"] = process.argv.slice(2);
if (!hubUrl || !repo || !cacheDir) {
	console.error("usage: node snapshot.mjs HUB_URL ORG/REPO CACHE_DIR [REVISION]");
	process.exit(2);
}
// downloadFileToCacheDir logs "Downloading PATH to ..." with console.debug
// for every file; not part of what is measured.
console.debug = () => {};

const dir = await snapshotDownload({ repo, hubUrl, cacheDir, revision });
let n = 0;
for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
	if (!e.isDirectory()) n++;
}
console.log(`${dir} ${n}`);

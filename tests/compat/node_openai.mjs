// The official `openai` npm package as a matrix client: create, a retrieve loop, downloadContent.
// Usage: node node_openai.mjs <base_url>   (resolve `openai` via NODE_PATH or a node_modules nearby)
// Prints one JSON line: {"cell": "..."}; the Python side cleans the text.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.OPENAI_NPM_DIR || process.cwd(), "noop.js"));
const { default: OpenAI } = await import(require.resolve("openai"));

const [baseURL] = process.argv.slice(2);
const WAITING = ["queued", "in_progress"]; // the loop OpenAI's own docs show
const DEADLINE_MS = 30000;
const INTERVAL_MS = 100;

function describe(err) {
  if (err && typeof err.status === "number") {
    const code = err.code || (err.error && err.error.code) || "";
    return `${err.constructor.name} ${err.status}${code ? " " + code : ""}`;
  }
  return `${err && err.constructor ? err.constructor.name : "Error"}: ${err && err.message ? err.message : err}`;
}

async function main() {
  const client = new OpenAI({ baseURL, apiKey: "sk-compat-matrix", maxRetries: 0, timeout: 30000 });
  let video;
  try {
    video = await client.videos.create({ model: "sora-2", prompt: "A calico cat playing a piano on stage", seconds: "4", size: "720x1280" });
  } catch (err) {
    return `videos.create threw ${describe(err)}`;
  }
  const deadline = Date.now() + DEADLINE_MS;
  while (WAITING.includes(video.status)) {
    if (Date.now() > deadline) return `retrieve loop still at status=${video.status} after ${DEADLINE_MS / 1000}s`;
    await new Promise((r) => setTimeout(r, INTERVAL_MS));
    try {
      video = await client.videos.retrieve(video.id);
    } catch (err) {
      return `videos.retrieve threw ${describe(err)}`;
    }
  }
  let bytes;
  try {
    const response = await client.videos.downloadContent(video.id);
    bytes = Buffer.from(await response.arrayBuffer());
  } catch (err) {
    return `retrieve loop ended at status=${video.status}; downloadContent threw ${describe(err)}`;
  }
  const mp4 = bytes.length > 12 && bytes.subarray(4, 8).toString("latin1") === "ftyp";
  if (!mp4) return `downloadContent returned ${bytes.length} bytes that are not an MP4`;
  if (video.status !== "completed") return `works, but the finished video says status=${video.status}`;
  return "works";
}

const cell = await main().catch((err) => `crashed: ${describe(err)}`);
console.log(JSON.stringify({ cell }));

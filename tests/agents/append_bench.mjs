// Benchmark for the hook's overhead: COUNT appendFileSync calls of one
// 200-byte line each to PATH (usage: append_bench.mjs PATH COUNT).
// Compare `node append_bench.mjs …` with and without the hook's --import.
import { appendFileSync } from "node:fs";

const [path, count = "20000"] = process.argv.slice(2);
const line = `${JSON.stringify({ type: "message", text: "x".repeat(171) })}\n`; // 200 bytes
for (let i = Number(count); i > 0; i--) appendFileSync(path, line);

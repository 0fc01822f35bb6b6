// Fake pi agent for the health bench (scripts/bench.sh health). Run it
// under `amux run -d` from a directory named `pi-coding-agent`, so amux
// takes it for pi and arms the preload.
//
// Usage: bind_agent.mjs FILE DIR
// Appends one user message to FILE (an existing pi session file under pi's
// session root): the preload reports the write, the runner announces FILE
// as its session file and the daemon binds it, reading it whole. Then it
// waits for DIR/stop and exits.
import { appendFileSync, existsSync } from "node:fs";
import path from "node:path";

const [file, dir] = process.argv.slice(2);
const message = { role: "user", content: [{ type: "text", text: "bench: bind this file" }] };
appendFileSync(file, `${JSON.stringify({ type: "message", timestamp: new Date().toISOString(), message })}\n`);
setInterval(() => existsSync(path.join(dir, "stop")) && process.exit(0), 20);

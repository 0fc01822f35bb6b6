// Exercises every fs write API the hook wraps, one distinct file each, in a
// fixed order (usage: surface.mjs DIR). check-hook.mjs expects exactly this
// sequence of reports: see SURFACE_EXPECTED there. Also does things that must
// NOT be reported: reads, non-.jsonl writes, repeated writes, a failing write.
import * as fs from "node:fs";
import { writeFile as pWriteFile } from "fs/promises";
import { pathToFileURL } from "node:url";

const dir = process.argv[2];
const p = (name) => `${dir}/${name}`;
const cb = (f) => new Promise((res, rej) => f((err, v) => (err ? rej(err) : res(v))));

fs.writeFileSync(p("ws.jsonl"), "{}\n"); // write
fs.appendFileSync(Buffer.from(p("as.jsonl")), "{}\n"); // append (Buffer path)
let fd = fs.openSync(pathToFileURL(p("fd.jsonl")), "a"); // append (URL path)
fs.writeSync(fd, "{}\n");
fs.closeSync(fd);
fd = fs.openSync(p("fdw.jsonl"), fs.constants.O_WRONLY | fs.constants.O_CREAT); // write
fs.writeSync(fd, "{}\n");
fs.closeSync(fd);
fs.readFileSync(p("ws.jsonl")); // reads: nothing
fd = fs.openSync(p("as.jsonl"), "r");
fs.readSync(fd, Buffer.alloc(8));
fs.closeSync(fd);
fs.writeFileSync(p("x.txt"), "x"); // not .jsonl: nothing
await cb((k) => fs.writeFile(p("cw.jsonl"), "{}\n", k)); // write
await cb((k) => fs.appendFile(p("ca.jsonl"), "{}\n", k)); // append
fd = await cb((k) => fs.open(p("co.jsonl"), "a", k)); // append
await cb((k) => fs.write(fd, "{}\n", k));
await cb((k) => fs.close(fd, k));
await pWriteFile(p("pw.jsonl"), "{}\n"); // write (fs/promises named import)
await fs.promises.appendFile(p("pa.jsonl"), "{}\n"); // append
const fh = await fs.promises.open(p("ph.jsonl"), "w"); // write (FileHandle)
await fh.write("{}\n");
await fh.appendFile("{}\n"); // same path again: nothing
await fh.close();
const ws = fs.createWriteStream(p("st.jsonl"), { flags: "a" }); // append (stream)
ws.write("{}\n");
await new Promise((res) => ws.end(res));
process.chdir(dir);
fs.appendFileSync("rel.jsonl", "{}\n"); // append, reported as DIR/rel.jsonl
fs.appendFileSync("rel.jsonl", "{}\n"); // same: nothing
try {
  fs.appendFileSync("/nonexistent-dir/f.jsonl", "{}\n"); // throws ENOENT, not reported
} catch (e) {
  if (e.code !== "ENOENT" || !(e instanceof Error)) process.exit(9);
}
fs.appendFileSync(p("end.jsonl"), "{}\n"); // append
console.log("surface done");

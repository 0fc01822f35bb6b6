// Fake pi agent, ESM named-import style: `import { appendFileSync } from "node:fs"`.
// Flags and behaviour: see common.cjs.
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import common from "./common.cjs";

common.run({ appendFileSync, mkdirSync, writeFileSync }, process.argv.slice(2));

// Fake pi agent, CommonJS style: `require("fs")`. Flags and behaviour: see common.cjs.
const fs = require("fs");
const common = require("./common.cjs");

common.run(fs, process.argv.slice(2));

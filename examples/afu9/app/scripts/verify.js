// Stand-in for the afu9 repository's own checks: fails when a workflow or
// task definition in this folder pins a suffixed Secrets Manager ARN.
const fs = require("fs");
const path = require("path");

const suffixed = /arn:aws[a-z-]*:secretsmanager:[^:]+:\d+:secret:[^:"\s]+-[A-Za-z0-9]{6}\b/;
let failures = 0;
for (const name of fs.readdirSync(path.join(__dirname, ".."))) {
  const file = path.join(__dirname, "..", name);
  if (!fs.statSync(file).isFile()) continue;
  if (suffixed.test(fs.readFileSync(file, "utf8"))) {
    console.error(`${name}: pins a suffixed secret ARN`);
    failures += 1;
  }
}
console.log(`repo:verify checked the repository, ${failures} problem(s)`);
process.exit(failures === 0 ? 0 : 1);

// A free TCP port on 127.0.0.1, found synchronously (the Playwright config is synchronous).
import { execFileSync } from "node:child_process";

export function freePort(): number {
  const script =
    "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close();});";
  return Number(execFileSync(process.execPath, ["-e", script]).toString());
}

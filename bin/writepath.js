#!/usr/bin/env -S node --max-semi-space-size=32
// The CLI runs the TypeScript sources directly through tsx's loader, so the bin works
// right after `npm ci` with no build step.
//
// --max-semi-space-size=32 (V8's young generation, 16 MB by default in Node 20): a batch's
// objects live for the milliseconds its database round trips take, and with many batches
// in flight a small young generation promotes them to the old one, which costs a server
// under 16 concurrent clients a fifth of its CPU (measured: 0.49 against 0.40 ms a batch,
// 1,810 against 2,040 batches a second). `npm start` passes the same flag; run as
// `node bin/writepath.js`, pass it yourself.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');

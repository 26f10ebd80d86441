#!/usr/bin/env node
// The CLI runs the TypeScript sources directly through tsx's loader, so the bin works
// right after `npm ci` with no build step.
//
// Run the server as `node --max-semi-space-size=24 bin/writepath.js serve` (`npm start`
// does): see "Young generation" in the README. Not in the shebang: `env -S`, which a
// shebang needs to pass a flag, is missing from BusyBox (Alpine images).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');

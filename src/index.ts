/**
 * writepath as a library: `createWritepath(config)` serves PowerSync upload batches from
 * your own server (web-standard handler, fastify plugin, Express middleware). The
 * standalone server is `npx writepath serve`.
 */
export { createWritepath, type Writepath, type WritepathConfigInput, type WritepathOptions } from './library/create-writepath.ts';
export type { ExpressHandler, ExpressLikeRequest } from './library/express-adapter.ts';
export type { WritepathConfig } from './config/schema.ts';
export { loadConfig, validateConfig, type LoadConfigResult } from './config/load.ts';
export { StartupError } from './server/open.ts';
export { WritepathError } from './core/errors.ts';
export type { BatchResponse, ErrorResponse, RejectedEntry, RejectionCode } from './protocol/response.ts';
export { REJECTION_CODES } from './protocol/response.ts';
export { Rejection } from './core/hooks.ts';
export type { EntryView, HandlerContext, HookContext, Hooks, OperationHandler, TableHooks, Validator } from './core/hooks.ts';

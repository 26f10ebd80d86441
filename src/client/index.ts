/**
 * `writepath/client`: the `uploadData` of a PowerSync connector for a writepath server.
 * Uses only the global `fetch` and no PowerSync runtime code, so it runs with
 * `@powersync/web`, `@powersync/node` and `@powersync/react-native` alike.
 */
export { createUploader, DEFAULT_MAX_BATCH_OPS, type UploadData, type UploaderOptions } from './uploader.ts';
export { UploadError, type UploadErrorCode } from './upload-error.ts';
export type { Credentials } from './credentials.ts';
export type { QueuedTransaction, UploadQueue } from './upload-queue.ts';
export type { BatchResponse, RejectedEntry, RejectionCode } from '../protocol/response.ts';

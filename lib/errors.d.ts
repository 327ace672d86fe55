// Types of lib/errors.js (the public ones are re-exported by lib/index.d.ts).
import type { ErrorCode, WebhookProcessingError } from './index'
export { WebhookProcessingError, ERROR_CODES } from './index'
export declare const RETRYABLE_CODES: ReadonlySet<ErrorCode>
export declare function toProcessingError(err: unknown): WebhookProcessingError
export declare function callNative<T>(fn: () => Promise<T>): Promise<T>

/** Errors the API answers with: a status, a stable code and a message for the client. */
import { AfgError } from '../core/errors.js';

export type ApiErrorCode =
  | 'INVALID_INPUT'
  | 'INVALID_JSON'
  | 'BAD_SIGNATURE'
  | 'STALE_NONCE'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAVAILABLE'
  | 'INTERNAL'
  /** An application's admission refusal (ApplicationDefinition.admissionCodes). */
  | (string & {});

/** A refusal with its HTTP status; the router turns it into `{ error: { code, message } }`. */
export class ApiError extends AfgError<ApiErrorCode, { status: number }> {
  constructor(status: number, code: ApiErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, { status }, options);
  }
  get status(): number {
    return this.meta.status;
  }
}

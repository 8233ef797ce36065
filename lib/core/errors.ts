/**
 * Typed errors: a string code, a payload per code, and toObject() for structured logs.
 * Throw only when an invariant is broken or input is refused at an edge; expected protocol
 * outcomes (duplicate vote, unknown signer) are returned as values instead.
 */
export class AfgError<Code extends string = string, Meta extends object = object> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    readonly meta: Meta = {} as Meta,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
  toObject(): { name: string; code: string; message: string } & Meta {
    return { name: this.name, code: this.code, message: this.message, ...this.meta };
  }
}

/** Malformed input at an edge: wrong type, length, range or encoding. `field` names the input. */
export class InputError extends AfgError<'INVALID_INPUT', { field: string }> {
  constructor(field: string, reason: string, options?: { cause?: unknown }) {
    super('INVALID_INPUT', `${field}: ${reason}`, { field }, options);
  }
}

/** A cryptographic object failed to decode or verify (bad point, bad signature, bad share). */
export class CryptoError extends AfgError<
  'BAD_POINT' | 'BAD_SIGNATURE' | 'BAD_SHARE' | 'DUPLICATE_MEMBER' | 'NOT_ENOUGH_SHARES' | 'UNKNOWN_MEMBER',
  { field?: string; members?: number[] }
> {}

/** A configuration value is missing or invalid. */
export class ConfigError extends AfgError<'INVALID_CONFIG', { key: string }> {
  constructor(key: string, reason: string) {
    super('INVALID_CONFIG', `${key}: ${reason}`, { key });
  }
}

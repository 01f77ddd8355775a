/**
 * The largest SPIFFE bundle, JWKS or bundle-map document the parsers accept: 8 MiB (bytes for byte
 * input, UTF-16 code units for string input). Far above any real bundle (a certificate entry is
 * about 1-2 KiB), and low enough that a hostile bundle endpoint cannot make a client parse
 * gigabytes.
 *
 * @example
 * ```ts
 * if (body.length > MAX_BUNDLE_DOCUMENT_SIZE) throw new Error('bundle too large');
 * ```
 */
export const MAX_BUNDLE_DOCUMENT_SIZE = 8 * 1024 * 1024;

/**
 * The deepest nesting of JSON arrays and objects the bundle parsers accept. A SPIFFE bundle needs
 * 3 levels (4 in a bundle map); the bound keeps hostile documents cheap.
 *
 * @example
 * ```ts
 * MAX_BUNDLE_DOCUMENT_DEPTH; // 64
 * ```
 */
export const MAX_BUNDLE_DOCUMENT_DEPTH = 64;

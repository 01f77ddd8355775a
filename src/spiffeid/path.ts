import { InvalidSpiffeIdError } from '../errors.js';
import { isPathChar } from './charset.js';

const SLASH = 0x2f;
const DOT = 0x2e;

function isDotSegment(s: string, start: number, end: number): boolean {
  const len = end - start;
  return (
    (len === 1 && s.charCodeAt(start) === DOT) ||
    (len === 2 && s.charCodeAt(start) === DOT && s.charCodeAt(start + 1) === DOT)
  );
}

/**
 * Checks that `path` is a valid SPIFFE ID path (SPIFFE-ID §2.2): empty (the trust domain's own ID),
 * or `/`-separated segments of `[a-zA-Z0-9._-]`, none empty, none `.` or `..`, and no trailing
 * slash. Throws {@link InvalidSpiffeIdError} naming the first rule broken.
 *
 * @example
 * ```ts
 * validatePath('/ns/prod/sa/web'); // ok
 * validatePath('/ns//web');        // throws: path cannot contain empty segments
 * ```
 */
export function validatePath(path: string): void {
  if (path.length === 0) return;
  if (path.charCodeAt(0) !== SLASH) {
    throw new InvalidSpiffeIdError(
      'path-leading-slash',
      path,
      `invalid SPIFFE ID path "${path}": path must have a leading slash`,
    );
  }
  let segmentStart = 1;
  for (let i = 1; i <= path.length; i++) {
    const atEnd = i === path.length;
    const code = atEnd ? SLASH : path.charCodeAt(i);
    if (code === SLASH) {
      if (i === segmentStart) {
        const rule = atEnd ? 'path-trailing-slash' : 'path-empty-segment';
        const what = atEnd
          ? 'path cannot have a trailing slash'
          : 'path cannot contain empty segments';
        throw new InvalidSpiffeIdError(rule, path, `invalid SPIFFE ID path "${path}": ${what}`);
      }
      if (isDotSegment(path, segmentStart, i)) {
        throw new InvalidSpiffeIdError(
          'path-dot-segment',
          path,
          `invalid SPIFFE ID path "${path}": path cannot contain dot segments`,
        );
      }
      segmentStart = i + 1;
    } else if (!isPathChar(code)) {
      throw new InvalidSpiffeIdError(
        'path-char',
        path,
        `invalid SPIFFE ID path "${path}": character ${describeChar(path, i)} at index ${i} is not allowed; path segment characters are limited to letters, numbers, dots, dashes, and underscores`,
      );
    }
  }
}

/**
 * Checks that `segment` is a single valid path segment: non-empty, not `.` or `..`, and only
 * `[a-zA-Z0-9._-]` (so no `/`). Throws {@link InvalidSpiffeIdError}.
 *
 * @example
 * ```ts
 * validatePathSegment('web');  // ok
 * validatePathSegment('a/b');  // throws: '/' is not a path segment character
 * ```
 */
export function validatePathSegment(segment: string): void {
  if (segment.length === 0) {
    throw new InvalidSpiffeIdError(
      'path-empty-segment',
      segment,
      'invalid SPIFFE ID path segment "": path cannot contain empty segments',
    );
  }
  if (isDotSegment(segment, 0, segment.length)) {
    throw new InvalidSpiffeIdError(
      'path-dot-segment',
      segment,
      `invalid SPIFFE ID path segment "${segment}": path cannot contain dot segments`,
    );
  }
  for (let i = 0; i < segment.length; i++) {
    if (!isPathChar(segment.charCodeAt(i))) {
      throw new InvalidSpiffeIdError(
        'path-char',
        segment,
        `invalid SPIFFE ID path segment "${segment}": character ${describeChar(segment, i)} at index ${i} is not allowed; path segment characters are limited to letters, numbers, dots, dashes, and underscores`,
      );
    }
  }
}

/** Joins validated segments into a path with a leading slash; no segments give the empty path. */
export function joinPathSegments(segments: readonly string[]): string {
  let path = '';
  for (const segment of segments) {
    validatePathSegment(segment);
    path += `/${segment}`;
  }
  return path;
}

/** A readable, unambiguous rendering of the character at `index` for error messages. */
export function describeChar(s: string, index: number): string {
  const code = s.charCodeAt(index);
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return code > 0x20 && code < 0x7f ? `'${s[index] ?? ''}' (${hex})` : hex;
}

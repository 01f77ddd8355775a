import { InvalidSpiffeIdError, type SpiffeIdRule } from '../errors.js';
import { isPathChar } from './charset.js';
import { charHint, describeChar, quoteInput, requireString } from './text.js';

const SLASH = 0x2f;
const DOT = 0x2e;

const PATH_CHARS_HINT =
  'path segment characters are limited to letters, numbers, dots, dashes, and underscores';

/** A broken path rule and a sentence saying where, ready to put after the quoted input. */
export interface PathProblem {
  readonly rule: SpiffeIdRule;
  readonly reason: string;
}

function isDotSegment(s: string, start: number, end: number): boolean {
  const len = end - start;
  return (
    (len === 1 && s.charCodeAt(start) === DOT) ||
    (len === 2 && s.charCodeAt(start) === DOT && s.charCodeAt(start + 1) === DOT)
  );
}

/**
 * Finds the first broken path rule in `s` from index `start` to the end, in scan order (so the
 * result does not depend on which caller asks). Indexes in the reason are indexes into `s`, so a
 * caller that validates the path inside a whole SPIFFE ID reports positions in that ID.
 */
export function findPathProblem(s: string, start: number): PathProblem | undefined {
  if (start === s.length) return undefined;
  if (s.charCodeAt(start) !== SLASH) {
    return { rule: 'path-leading-slash', reason: 'path must have a leading slash' };
  }
  let segmentStart = start + 1;
  for (let i = segmentStart; i <= s.length; i++) {
    const atEnd = i === s.length;
    const code = atEnd ? SLASH : s.charCodeAt(i);
    if (code === SLASH) {
      if (i === segmentStart) {
        return atEnd
          ? { rule: 'path-trailing-slash', reason: 'path cannot have a trailing slash' }
          : {
              rule: 'path-empty-segment',
              reason: `path cannot contain empty segments (the "//" at index ${i - 1})`,
            };
      }
      if (isDotSegment(s, segmentStart, i)) {
        return {
          rule: 'path-dot-segment',
          reason: `path cannot contain dot segments (the "${s.slice(segmentStart, i)}" segment at index ${segmentStart})`,
        };
      }
      segmentStart = i + 1;
    } else if (!isPathChar(code)) {
      return {
        rule: 'path-char',
        reason: `character ${describeChar(s, i)} at index ${i} is not allowed${charHint(code, false)}; ${PATH_CHARS_HINT}`,
      };
    }
  }
  return undefined;
}

/**
 * Checks that `path` is a valid SPIFFE ID path (SPIFFE-ID §2.2): empty (the trust domain's own ID),
 * or `/`-separated segments of `[a-zA-Z0-9._-]`, none empty, none `.` or `..`, and no trailing
 * slash. Throws {@link InvalidSpiffeIdError} naming the first rule broken.
 *
 * @example
 * ```ts
 * validatePath('/ns/prod/sa/web'); // ok
 * validatePath('');                // ok: the trust domain's own ID has an empty path
 * validatePath('/ns//web');        // throws, err.rule === 'path-empty-segment'
 * ```
 */
export function validatePath(path: string): void {
  requireString(path, 'a SPIFFE ID path');
  const problem = findPathProblem(path, 0);
  if (problem !== undefined) {
    throw new InvalidSpiffeIdError(
      problem.rule,
      path,
      `invalid SPIFFE ID path ${quoteInput(path)}: ${problem.reason}`,
    );
  }
}

/**
 * Checks that `segment` is a single valid path segment: non-empty, not `.` or `..`, and only
 * `[a-zA-Z0-9._-]` (so no `/`). Throws {@link InvalidSpiffeIdError}.
 *
 * @example
 * ```ts
 * validatePathSegment('web');  // ok
 * validatePathSegment('a/b');  // throws, err.rule === 'path-char': '/' is not a segment character
 * ```
 */
export function validatePathSegment(segment: string): void {
  requireString(segment, 'a SPIFFE ID path segment');
  let problem: PathProblem | undefined;
  if (segment.length === 0) {
    problem = { rule: 'path-empty-segment', reason: 'path cannot contain empty segments' };
  } else if (isDotSegment(segment, 0, segment.length)) {
    problem = { rule: 'path-dot-segment', reason: 'path cannot contain dot segments' };
  } else {
    for (let i = 0; i < segment.length; i++) {
      const code = segment.charCodeAt(i);
      if (!isPathChar(code)) {
        problem = {
          rule: 'path-char',
          reason: `character ${describeChar(segment, i)} at index ${i} is not allowed${charHint(code, false)}; ${PATH_CHARS_HINT}`,
        };
        break;
      }
    }
  }
  if (problem !== undefined) {
    throw new InvalidSpiffeIdError(
      problem.rule,
      segment,
      `invalid SPIFFE ID path segment ${quoteInput(segment)}: ${problem.reason}`,
    );
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

// gRPC status codes by number, with the names the SPIFFE Workload Endpoint standard uses.
const NAMES: readonly string[] = [
  'OK',
  'Cancelled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

/** The name of gRPC status `code` (`PermissionDenied` for 7), or `Code<n>` for an unknown one. */
export function grpcStatusName(code: number): string {
  return NAMES[code] ?? `Code${code}`;
}

export const OK = 0;
export const CANCELLED = 1;
export const INVALID_ARGUMENT = 3;
export const PERMISSION_DENIED = 7;
export const UNIMPLEMENTED = 12;

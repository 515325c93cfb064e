// One pino logger for the service. Secrets never reach a log line: headers that carry credentials or
// signatures and any field named like a secret are censored wherever they appear in a logged object.
import pino, { type DestinationStream, type Logger } from 'pino';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-ms-signature"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-ms-signature"]',
  '*.authorization',
  '*.accessToken',
  '*.access_token',
  '*.refreshToken',
  '*.refresh_token',
  '*.token',
  '*.clientSecret',
  '*.client_secret',
  '*.privateKey',
  '*.password',
  '*.secret',
  '*.tokenKey',
];

export interface LoggerOptions {
  level: string;
  /** Default: stderr, so stdout stays free for the start-up line scripts read. */
  destination?: DestinationStream;
  name?: string;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      name: options.name ?? 'cosell',
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

import { type Logger, type LoggerOptions, pino } from "pino";

export type { Logger };

/**
 * Field paths that may hold secrets anywhere in a log record. pino censors them before
 * serialisation, so a careless `log.info({ body })` still never writes a password.
 */
const REDACT_PATHS = [
  "password",
  "*.password",
  "*.*.password",
  "secret",
  "*.secret",
  "token",
  "*.token",
  "credentials",
  "*.credentials",
  "*.*.credentials",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  '*.headers["authentication-token"]',
  "parameters",
  "*.parameters",
  "encryptionKey",
];

export interface LoggerConfig {
  level?: string;
  /** Where records go; defaults to stdout. Tests pass a stream to capture output. */
  destination?: NodeJS.WritableStream;
  name?: string;
}

export function createLogger(config: LoggerConfig = {}): Logger {
  const options: LoggerOptions = {
    level: config.level ?? process.env.LOG_LEVEL ?? "info",
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    base: config.name ? { name: config.name } : null,
    timestamp: pino.stdTimeFunctions.isoTime,
    // "error", not 50: log pipelines and people read the level without a lookup table.
    formatters: { level: (label) => ({ level: label }) },
  };
  return config.destination ? pino(options, config.destination) : pino(options);
}

/** A logger that writes nothing: for library code used without a logger and for quiet tests. */
export const silentLogger: Logger = pino({ level: "silent" });

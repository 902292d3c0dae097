// The logger shape core needs; pino's Logger fits it. Core never builds one itself.
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child?(bindings: object): Logger;
  /** pino's: lets a caller skip building a line that would not be written. */
  isLevelEnabled?(level: string): boolean;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, isLevelEnabled: () => false };

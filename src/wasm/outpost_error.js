// The one error class Outpost throws. The wasm glue imports it from here, and the package
// re-exports this same module, so `err instanceof OutpostError` holds for errors from wasm.
export class OutpostError extends Error {
  /**
   * @param {string} code stable machine-readable code, e.g. "SQLITE_CONSTRAINT_UNIQUE"
   * @param {string} message what went wrong, for people
   */
  constructor(code, message) {
    super(message);
    this.name = "OutpostError";
    this.code = code;
  }
}

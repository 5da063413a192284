// Types of outpost-sqlite/inspector: a drop-in panel showing a database's outbox (browser only).
import type { Database } from "./index.js";

/** A mounted inspector. */
export interface Inspector {
  /** The panel's root element. */
  element: HTMLElement;
  /** Redraws the panel; resolves once it shows the current outbox. */
  refresh(): Promise<void>;
  /** Removes the panel and stops listening to the database. */
  close(): void;
}

/**
 * Appends a panel to `container` (default `document.body`) showing the sync status and last error,
 * the pending writes, and the rejected writes with their code and reason, with "Sync now" and
 * "Discard" buttons. It redraws on the database's `status` and `rejected` events.
 */
export function mountInspector(db: Database, container?: HTMLElement): Inspector;

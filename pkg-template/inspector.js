// An outbox inspector an app can drop in while developing: a small panel (plain DOM, no framework)
// showing the sync status, the pending writes, and the writes the primary refused with their code
// and reason, with "Sync now" (retry) and "Discard" buttons. It reads only the public calls
// (syncStatus, pendingWrites, rejectedWrites) and redraws on the `status` and `rejected` events.
import { checkDatabase } from "./orm.js";

const LIMIT = 50;

/** @type {import("./inspector.d.ts").mountInspector} */
export function mountInspector(db, container = document.body) {
  checkDatabase(db, "mountInspector(db)");
  const panel = element("section", { class: "outpost-inspector", style: "font: 12px/1.4 monospace; border: 1px solid #999; padding: 8px" });
  container.append(panel);
  let closed = false;
  let actionError = null;
  let drawing = Promise.resolve();

  const act = (run) => async () => {
    actionError = null;
    try {
      await run();
    } catch (err) {
      actionError = err;
    }
    await refresh();
  };

  async function draw() {
    if (closed) return;
    const [pending, rejected] = await Promise.all([db.pendingWrites({ limit: LIMIT }), db.rejectedWrites({ limit: LIMIT })]);
    if (closed) return;
    const status = db.syncStatus();
    const problem = actionError ?? status.lastError;
    panel.replaceChildren(
      element("div", { "data-outpost": "status" }, [
        `sync: ${status.state} · pending ${status.pending}`,
        status.lastSyncedAt === null ? " · never synced" : ` · last synced ${new Date(status.lastSyncedAt).toLocaleTimeString()}`,
      ]),
      status.waiting ? element("div", { "data-outpost": "waiting" }, [`waiting: ${status.waiting.code}: ${status.waiting.reason}`]) : "",
      problem ? element("div", { "data-outpost": "error", style: "color: #b00" }, [`${problem.code ?? "ERROR"}: ${problem.message}`]) : "",
      button("sync", "Sync now", act(() => db.sync())),
      element("h4", {}, [`Pending (${pending.count})`]),
      list("pending", pending.writes.map((write) => element("li", { "data-seq": String(write.seq) }, [describe(write)]))),
      element("h4", {}, [`Rejected (${rejected.count})`]),
      rejected.count > 0 ? button("discard-all", "Discard all", act(() => db.discardRejected())) : "",
      list(
        "rejected",
        rejected.writes.map((write) =>
          element("li", { "data-seq": String(write.seq), "data-code": write.code }, [
            `${describe(write)} — ${write.code}: ${write.reason} `,
            button("discard", "Discard", act(() => db.discardRejected(write.seq))),
          ]),
        ),
      ),
    );
  }

  /** Redraws (one draw at a time, in order); resolves once the panel shows the current outbox. */
  function refresh() {
    drawing = drawing.then(draw).catch((err) => {
      if (!closed) panel.replaceChildren(element("div", { "data-outpost": "error", style: "color: #b00" }, [`inspector: ${err.message}`]));
    });
    return drawing;
  }

  const stops = [db.on("status", () => refresh()), db.on("rejected", () => refresh())];
  refresh();
  return {
    element: panel,
    refresh,
    close() {
      closed = true;
      for (const stop of stops) stop();
      panel.remove();
    },
  };
}

function describe(write) {
  const columns = Object.keys(write.columns).length > 0 ? ` ${stringify(write.columns)}` : "";
  return `#${write.seq} ${write.op} ${write.table} ${stringify(write.key)}${columns}`;
}

function stringify(value) {
  return JSON.stringify(value, (_name, v) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? `<${v.length} bytes>` : v));
}

function list(name, items) {
  return items.length > 0 ? element("ul", { "data-outpost": name }, items) : element("p", { "data-outpost": name }, ["none"]);
}

function button(name, label, onClick) {
  const node = element("button", { type: "button", "data-outpost": name }, [label]);
  node.addEventListener("click", onClick);
  return node;
}

function element(tag, attributes, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

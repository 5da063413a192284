// The demo page: one device's replica of a shared board. `?device=b` opens another device (its own
// local database, so a second tab is a second replica); `?board=name` picks the primary's database.
import { Replica } from "./replica.js";
import { Board, LISTS_SQL, TASKS_SQL } from "./board.js";
import { Latency, Outbox, Rejections, SyncState } from "./machinery.js";
import { MAX_TITLE_LENGTH } from "./schema.js";
import { formatMicros } from "./dom.js";

const params = new URLSearchParams(location.search);
const device = clean(params.get("device"), /^[a-z0-9]{1,12}$/, "a");
const boardName = clean(params.get("board"), /^[a-z0-9][a-z0-9_-]{0,40}$/, "demo");
const offlineKey = `outpost-demo:${boardName}:${device}:offline`;

const $ = (id) => document.getElementById(id);

const replica = new Replica({
  localName: `board-${boardName}-device-${device}`,
  syncUrl: `${location.origin}/v1/db/${boardName}`,
  offline: localStorage.getItem(offlineKey) === "1",
});

const syncState = new SyncState({
  pill: $("sync-state"),
  last: $("last-sync"),
  error: $("sync-error"),
  changeNote: $("last-change"),
});
const latency = new Latency(replica, $("latency-table"), $("latency-summary"));
const outbox = new Outbox(replica, $("outbox-count"), $("outbox-entries"));
const rejections = new Rejections(replica, $("rejected-count"), $("rejected-entries"));
const board = new Board($("lists"), replica, () => refresh());

// ---- refreshing: coalesced, one at a time ----------------------------------------------------

let refreshing = null;
let refreshAgain = false;
let lastRenderMs = null;

function refresh() {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      refreshAgain = false;
      try {
        await refreshOnce();
      } catch (err) {
        if (err?.code !== "DATABASE_CLOSED") console.error(err);
      }
    } while (refreshAgain);
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function refreshOnce() {
  const db = await replica.db();
  const writesBefore = board.writesStarted;
  const started = performance.now();
  const [lists, tasks] = await Promise.all([db.query(LISTS_SQL), db.query(TASKS_SQL)]);
  lastRenderMs = performance.now() - started;
  // Rows read before the user's latest write would undo it on screen for a moment (a box just
  // ticked shows unticked): skip them; that write refreshes again when it is done.
  if (board.writesStarted !== writesBefore) return;
  board.render(lists, tasks);
  latency.state.someTaskId = tasks[0]?.id ?? null;
  $("empty-board").hidden = lists.length > 0;
  $("board-stats").textContent =
    `${lists.length} ${lists.length === 1 ? "list" : "lists"}, ${tasks.length} ${tasks.length === 1 ? "task" : "tasks"} · read locally in ${formatMicros(lastRenderMs)}`;
  await Promise.all([outbox.refresh(), rejections.refresh()]);
  latency.maybeMeasure();
}

// ---- wiring ------------------------------------------------------------------------------------

replica.addEventListener("status", (event) => {
  syncState.show(event.detail);
  outbox.refresh().catch(() => {});
});
replica.addEventListener("change", () => {
  syncState.changed();
  refresh();
});
replica.addEventListener("rejected", (event) => {
  const { code, reason } = event.detail;
  toast(`The primary refused a write: ${reason} (${code})`);
  refresh();
});

$("new-list").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("new-list-name");
  const name = input.value.trim();
  if (!name) return;
  input.value = "";
  board.addList(name).catch(console.error);
});

$("sample-board").addEventListener("click", () => fillSample().catch(console.error));

const offlineSwitch = $("offline-switch");
function showSwitch() {
  offlineSwitch.setAttribute("aria-checked", String(replica.offline));
  document.body.classList.toggle("is-offline", replica.offline);
}
offlineSwitch.addEventListener("click", async () => {
  const offline = !replica.offline;
  localStorage.setItem(offlineKey, offline ? "1" : "0");
  offlineSwitch.disabled = true;
  try {
    const switching = replica.setOffline(offline);
    showSwitch();
    syncState.show(offline ? { state: "offline", lastError: null } : replica.status());
    await switching;
  } finally {
    offlineSwitch.disabled = false;
  }
  refresh();
  latency.maybeMeasure(true);
});

$("measure").addEventListener("click", () => latency.maybeMeasure(true));
$("clear-rejected").addEventListener("click", () => rejections.clear().catch(console.error));
$("provoke").addEventListener("click", async () => {
  if (board.listCount === 0) await board.addList("Inbox");
  const db = await replica.db();
  const [first] = await db.query(LISTS_SQL);
  const title = "This title is deliberately longer than the primary allows, so it is refused on push.";
  console.assert(title.length > MAX_TITLE_LENGTH);
  await board.addTask(first.id, title);
});

// The link to another device of the same board: a different local database, same primary database.
const nextDevice = device === "a" ? "b" : device === "b" ? "a" : "a";
const other = $("other-device");
other.href = `?device=${nextDevice}${boardName === "demo" ? "" : `&board=${boardName}`}`;
other.querySelector(".device-letter").textContent = nextDevice.toUpperCase();
$("this-device").textContent = device.toUpperCase();
$("board-name").textContent = boardName;
$("max-title").textContent = String(MAX_TITLE_LENGTH);
document.title = `Device ${device.toUpperCase()} · Outpost demo`;

// ---- start ---------------------------------------------------------------------------------------

const ready = (async () => {
  showSwitch();
  syncState.show(null);
  try {
    await replica.start();
  } catch (err) {
    showOpenError(err);
    throw err;
  }
  document.body.classList.remove("is-loading");
  await refresh();
})();
ready.catch(() => {});

// For tests and curious developers: window.outpostDemo.db() is this device's database.
window.outpostDemo = { ready, replica, db: () => replica.db(), refresh, device, board: boardName };

async function fillSample() {
  const db = await replica.db();
  const now = Date.now();
  const lists = [
    ["To do", ["Sketch the landing page", "Write the release notes", "Book the team offsite"]],
    ["Doing", ["Review the sync protocol", "Fix the flaky upload"]],
    ["Done", ["Set up the primary"]],
  ];
  const statements = [];
  lists.forEach(([name, titles], li) => {
    const listId = crypto.randomUUID();
    statements.push({
      sql: "INSERT INTO lists (id, name, position, created_at) VALUES (?, ?, ?, ?)",
      params: [listId, name, li + 1, now],
    });
    titles.forEach((title, ti) =>
      statements.push({
        sql: "INSERT INTO tasks (id, list_id, title, done, position, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        params: [crypto.randomUUID(), listId, title, name === "Done" ? 1 : 0, ti + 1, now],
      }),
    );
  });
  await db.batch(statements);
  refresh();
}

function showOpenError(err) {
  document.body.classList.remove("is-loading");
  const box = $("open-error");
  box.hidden = false;
  if (err?.code === "DATABASE_IN_USE") {
    box.querySelector("p").textContent =
      `Device ${device.toUpperCase()} database is held by another tab that did not let go of it. ` +
      `Close that tab, or open another device.`;
  } else {
    box.querySelector("p").textContent = `The board could not be opened: ${err?.code ?? "ERROR"}: ${err?.message ?? err}`;
  }
}

let toastTimer = null;
function toast(message) {
  const el = $("toast");
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.hidden = true;
  }, 5000);
}

function clean(value, pattern, fallback) {
  const lower = (value ?? "").toLowerCase();
  return pattern.test(lower) ? lower : fallback;
}

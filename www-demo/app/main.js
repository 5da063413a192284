// The demo page: one device's replica of a board. `?device=b` opens another device (its own local
// database, so a second tab is a second replica). With the board's sync rules, `?user=ben` opens it
// as another user, whose board differs (users.js); without them, `?board=name` picks the primary's
// database and everyone shares it.
import { Replica } from "./replica.js";
import { whoIsHere } from "./users.js";
import { Board, LISTS_SQL, TASKS_SQL } from "./board.js";
import { Latency, Outbox, Rejections, SyncState } from "./machinery.js";
import { MAX_TITLE_LENGTH } from "./schema.js";
import { formatMicros } from "./dom.js";

// Tests and curious developers wait on window.outpostDemo.ready: it is there before the page
// waits for anything; the rest of window.outpostDemo is filled in below.
let settleReady;
window.outpostDemo = { ready: new Promise((resolve, reject) => (settleReady = { resolve, reject })) };

const params = new URLSearchParams(location.search);
const device = clean(params.get("device"), /^[a-z0-9]{1,12}$/, "a");
/** The signed-in user under the board's rules, or null on a shared board. */
const user = await whoIsHere(params);
const boardName = user?.database ?? clean(params.get("board"), /^[a-z0-9][a-z0-9_-]{0,40}$/, "demo");
// Each user's devices have their own local databases: a user's replica holds only what they may read.
const replicaKey = user ? `${boardName}-${user.id}` : boardName;
const offlineKey = `outpost-demo:${replicaKey}:${device}:offline`;

const $ = (id) => document.getElementById(id);

const replica = new Replica({
  localName: user ? `board-${boardName}-user-${user.id}-device-${device}` : `board-${boardName}-device-${device}`,
  syncUrl: `${location.origin}/v1/db/${boardName}`,
  offline: localStorage.getItem(offlineKey) === "1",
  token: user?.token ?? null,
});

const syncState = new SyncState({
  pill: $("sync-state"),
  last: $("last-sync"),
  error: $("sync-error"),
  changeNote: $("last-change"),
});
// Under sync rules the primary's /query is off (it would read past them): local reads only.
const latency = new Latency(replica, $("latency-table"), $("latency-summary"), { primaryQueries: !user });
const outbox = new Outbox(replica, $("outbox-count"), $("outbox-entries"));
const rejections = new Rejections(replica, $("rejected-count"), $("rejected-entries"));
const board = new Board($("lists"), replica, () => refresh(), { user });

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
  const privateList = Boolean(user) && $("new-list-private").checked;
  board.addList(name, { private: privateList }).catch(console.error);
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
const sameBoard = user ? `&user=${user.id}` : boardName === "demo" ? "" : `&board=${boardName}`;
other.href = `?device=${nextDevice}${sameBoard}`;
other.querySelector(".device-letter").textContent = nextDevice.toUpperCase();
$("this-device").textContent = device.toUpperCase();
$("board-name").textContent = boardName;
$("max-title").textContent = String(MAX_TITLE_LENGTH);
document.title = `Device ${device.toUpperCase()} · Outpost demo`;
if (user) showUser(user);

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
ready.then(settleReady.resolve, settleReady.reject);
ready.catch(() => {});

// For tests and curious developers: window.outpostDemo.db() is this device's database.
Object.assign(window.outpostDemo, { replica, db: () => replica.db(), refresh, device, board: boardName, user: user?.id ?? null });

/** The signed-in user in the top bar, a link to open the board as the next one, and the rules' hints. */
function showUser({ id, name, users }) {
  $("this-user").textContent = name;
  $("user-line").hidden = false;
  const next = users[(users.findIndex((u) => u.id === id) + 1) % users.length];
  if (next && next.id !== id) {
    const link = $("other-user");
    link.href = `?user=${next.id}`;
    link.querySelector(".user-name").textContent = next.name;
    link.hidden = false;
  }
  $("new-list-private-field").hidden = false;
  $("rules-hint").hidden = false;
  document.title = `${name}, device ${device.toUpperCase()} · Outpost demo`;
}

async function fillSample() {
  const db = await replica.db();
  const now = Date.now();
  const lists = [
    ["To do", ["Sketch the landing page", "Write the release notes", "Book the team offsite"]],
    ["Doing", ["Review the sync protocol", "Fix the flaky upload"]],
    ["Done", ["Set up the primary"]],
  ];
  // Signed in, the sample adds a private list too: the other user's board goes without it.
  if (user) lists.push([`${user.name}'s notes`, ["Only I see this list"]]);
  const statements = [];
  lists.forEach(([name, titles], li) => {
    const listId = crypto.randomUUID();
    statements.push({
      sql: "INSERT INTO lists (id, name, position, created_at, owner, private) VALUES (?, ?, ?, ?, ?, ?)",
      params: [listId, name, li + 1, now, user?.id ?? null, user && li === 3 ? 1 : 0],
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

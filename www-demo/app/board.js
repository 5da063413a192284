// The task board: lists of tasks, read from the local database and written to it. Every write is
// one local statement (or one batch); the sync module takes it from there. Rendering is keyed by
// id so that typing, focus and an open editor survive the refresh that a remote change causes.
import { h, keepingFocus, placeChildren } from "./dom.js";

export const LISTS_SQL = "SELECT id, name, position, owner, private FROM lists ORDER BY position, created_at, id";
export const TASKS_SQL =
  "SELECT id, list_id, title, done, position FROM tasks ORDER BY list_id, position, created_at, id";

export class Board {
  #root;
  #replica;
  #afterWrite;
  #columns = new Map();
  /** { kind: "task" | "list", id, element } while an inline editor is open. */
  #editing = null;
  #lists = [];
  #tasksByList = new Map();
  #writesStarted = 0;
  /** The list whose delete button waits for its confirming click, or null. */
  #armedList = null;
  /** The signed-in user (users.js), or null on a shared board without rules. */
  #user;

  /**
   * @param {HTMLElement} root
   * @param {import("./replica.js").Replica} replica
   * @param {(what: string) => void} afterWrite called after each local write
   * @param {{ user: Awaited<ReturnType<typeof import("./users.js").whoIsHere>> }} options
   */
  constructor(root, replica, afterWrite, { user = null } = {}) {
    this.#root = root;
    this.#replica = replica;
    this.#afterWrite = afterWrite;
    this.#user = user;
  }

  get listCount() {
    return this.#lists.length;
  }

  /** How many local writes have been sent: a read begun before the latest one is out of date. */
  get writesStarted() {
    return this.#writesStarted;
  }

  render(lists, tasks) {
    this.#lists = lists;
    this.#tasksByList = new Map(lists.map((l) => [l.id, []]));
    for (const task of tasks) this.#tasksByList.get(task.list_id)?.push(task);
    keepingFocus(() => this.#renderColumns());
  }

  // ---- writes -------------------------------------------------------------------------------

  async #write(sql, params, what) {
    const db = await this.#replica.db();
    this.#writesStarted += 1;
    try {
      await db.execute(sql, params);
    } finally {
      this.#afterWrite(what);
    }
  }

  /** A list owned by the signed-in user; `private` ones only they see (www-demo/rules.txt). */
  addList(name, { private: privateList = false } = {}) {
    return this.#write(
      "INSERT INTO lists (id, name, position, created_at, owner, private) " +
        "VALUES (?, ?, (SELECT coalesce(max(position), 0) + 1 FROM lists), ?, ?, ?)",
      [crypto.randomUUID(), name, Date.now(), this.#user?.id ?? null, privateList ? 1 : 0],
      "add list",
    );
  }

  addTask(listId, title) {
    return this.#write(
      "INSERT INTO tasks (id, list_id, title, done, position, created_at) " +
        "VALUES (?, ?, ?, 0, (SELECT coalesce(max(position), 0) + 1 FROM tasks WHERE list_id = ?), ?)",
      [crypto.randomUUID(), listId, title, listId, Date.now()],
      "add task",
    );
  }

  #setDone(task, done) {
    return this.#write("UPDATE tasks SET done = ? WHERE id = ?", [done ? 1 : 0, task.id], "complete task");
  }

  #rename(task, title) {
    return this.#write("UPDATE tasks SET title = ? WHERE id = ? AND title IS NOT ?", [title, task.id, title], "edit task");
  }

  #renameList(list, name) {
    return this.#write("UPDATE lists SET name = ? WHERE id = ? AND name IS NOT ?", [name, list.id, name], "rename list");
  }

  // Offered on every list, the owner's or not: the rules let only the owner change it, so another
  // user's click shows what a refused write looks like (NOT_PERMITTED, then undone).
  #setPrivate(list, privateList) {
    return this.#write("UPDATE lists SET private = ? WHERE id = ?", [privateList ? 1 : 0, list.id], "share list");
  }

  #deleteTask(task) {
    return this.#write("DELETE FROM tasks WHERE id = ?", [task.id], "delete task");
  }

  async #deleteList(list) {
    const db = await this.#replica.db();
    this.#writesStarted += 1;
    try {
      await db.batch([
        { sql: "DELETE FROM tasks WHERE list_id = ?", params: [list.id] },
        { sql: "DELETE FROM lists WHERE id = ?", params: [list.id] },
      ]);
    } finally {
      this.#afterWrite("delete list");
    }
  }

  /** Moves a task one place up (-1) or down (+1) by giving it the midpoint of its new neighbours. */
  #move(task, direction) {
    const tasks = this.#tasksByList.get(task.list_id) ?? [];
    const i = tasks.findIndex((t) => t.id === task.id);
    const j = i + direction;
    if (i < 0 || j < 0 || j >= tasks.length) return;
    const beyond = tasks[j + direction];
    const position = beyond ? (tasks[j].position + beyond.position) / 2 : tasks[j].position + direction;
    return this.#write("UPDATE tasks SET position = ? WHERE id = ?", [position, task.id], "reorder task");
  }

  // ---- rendering ------------------------------------------------------------------------------

  #renderColumns() {
    const seen = new Set();
    const sections = [];
    for (const list of this.#lists) {
      seen.add(list.id);
      let column = this.#columns.get(list.id);
      if (!column) {
        column = this.#createColumn(list);
        this.#columns.set(list.id, column);
      }
      column.list = list;
      this.#fillColumn(column);
      sections.push(column.section);
    }
    placeChildren(this.#root, sections);
    for (const id of this.#columns.keys()) {
      if (!seen.has(id)) this.#columns.delete(id);
    }
  }

  #createColumn(list) {
    const headingId = `list-${list.id}-name`;
    const inputId = `list-${list.id}-new-task`;
    const column = { list };
    column.heading = h("div", { class: "list-head" });
    column.count = h("span", { class: "list-count" });
    column.items = h("ul", { class: "tasks", "aria-labelledby": headingId });
    const input = h("input", {
      id: inputId,
      class: "add-task-input",
      name: "title",
      autocomplete: "off",
      placeholder: "Add a task…",
      required: true,
      dataset: { focusKey: `list:${list.id}:new-task` },
    });
    const form = h(
      "form",
      {
        class: "add-task",
        onsubmit: (event) => {
          event.preventDefault();
          const title = input.value.trim();
          if (!title) return;
          input.value = "";
          this.addTask(column.list.id, title).catch(reportError);
        },
      },
      h("label", { for: inputId, class: "visually-hidden" }, "New task"),
      input,
      h("button", { type: "submit", class: "button button-quiet", "aria-label": "Add task" }, "Add"),
    );
    column.section = h(
      "section",
      { class: "list", dataset: { listId: list.id }, "aria-labelledby": headingId },
      column.heading,
      column.items,
      form,
    );
    return column;
  }

  #fillColumn(column) {
    const { list } = column;
    const tasks = this.#tasksByList.get(list.id) ?? [];
    const open = tasks.filter((t) => !t.done).length;
    column.count.textContent = tasks.length ? `${open} open · ${tasks.length - open} done` : "empty";
    column.section.querySelector(".add-task label").textContent = `New task in ${list.name}`;

    if (!(this.#editing?.kind === "list" && this.#editing.id === list.id)) {
      column.heading.replaceChildren(...this.#listHeading(list, column));
    }
    const items = tasks.map((task, index) => {
      if (this.#editing?.kind === "task" && this.#editing.id === task.id && this.#editing.element.isConnected) {
        return this.#editing.element;
      }
      return this.#taskItem(task, index, tasks.length);
    });
    if (items.length === 0) items.push(h("li", { class: "tasks-empty" }, "No tasks yet."));
    placeChildren(column.items, items);
  }

  #listHeading(list, column) {
    const headingId = `list-${list.id}-name`;
    // Two clicks: the first arms the button for a few seconds. The armed state lives here, not in
    // the button, so a re-render in between (a change from another device) keeps it.
    const armed = this.#armedList === list.id;
    const deleteButton = h(
      "button",
      {
        type: "button",
        class: "icon-button danger",
        "aria-label": armed ? `Confirm: delete list ${list.name} and its tasks` : `Delete list ${list.name}`,
        title: "Delete list",
        dataset: { focusKey: `list:${list.id}:delete`, ...(armed ? { armed: "1" } : {}) },
        onclick: () => {
          if (this.#armedList === list.id) {
            this.#armedList = null;
            this.#deleteList(list).catch(reportError);
            return;
          }
          this.#armedList = list.id;
          this.#redraw();
          setTimeout(() => {
            if (this.#armedList !== list.id) return;
            this.#armedList = null;
            this.#redraw();
          }, 3000);
        },
      },
      armed ? "Delete?" : "×",
    );
    return [
      h(
        "h2",
        { id: headingId, class: "list-name" },
        h(
          "button",
          {
            type: "button",
            class: "text-button",
            title: "Rename list",
            "aria-label": `${list.name}, rename list`,
            dataset: { focusKey: `list:${list.id}:name` },
            onclick: (event) =>
              this.#openEditor("list", list.id, event.currentTarget.closest(".list-head"), list.name, (name) =>
                this.#renameList(list, name),
              ),
          },
          list.name,
        ),
      ),
      column.count,
      ...(this.#user ? [this.#privacyButton(list)] : []),
      deleteButton,
    ];
  }

  /** "Shared" or "Private", with who owns the list; a click asks to switch. */
  #privacyButton(list) {
    const privateList = Boolean(list.private);
    const owner = this.#user.users.find((u) => u.id === list.owner);
    const ownerText = !owner ? "" : owner.id === this.#user.id ? " · mine" : ` · ${owner.name}`;
    return h(
      "button",
      {
        type: "button",
        class: privateList ? "privacy-button private" : "privacy-button",
        "aria-label": privateList ? `Share list ${list.name} with the board` : `Make list ${list.name} private`,
        title: privateList
          ? "Private: only its owner sees it. Click to share it with the board."
          : "Shared with everyone on the board. Click to make it private (only its owner may).",
        dataset: { focusKey: `list:${list.id}:privacy` },
        onclick: () => this.#setPrivate(list, !privateList).catch(reportError),
      },
      `${privateList ? "Private" : "Shared"}${ownerText}`,
    );
  }

  #taskItem(task, index, count) {
    const done = Boolean(task.done);
    const checkboxId = `task-${task.id}-done`;
    const li = h("li", { class: done ? "task done" : "task", dataset: { taskId: task.id } });
    li.append(
      h("input", {
        type: "checkbox",
        id: checkboxId,
        class: "task-done",
        checked: done,
        "aria-label": `Done: ${task.title}`,
        dataset: { focusKey: `task:${task.id}:done` },
        onchange: (event) => this.#setDone(task, event.currentTarget.checked).catch(reportError),
      }),
      h(
        "button",
        {
          type: "button",
          class: "text-button task-title",
          title: "Edit",
          "aria-label": `${task.title}, edit title`,
          dataset: { focusKey: `task:${task.id}:title` },
          onclick: () => this.#openEditor("task", task.id, li, task.title, (title) => this.#rename(task, title)),
        },
        task.title,
      ),
      h(
        "span",
        { class: "task-actions" },
        h(
          "button",
          {
            type: "button",
            class: "icon-button",
            "aria-label": `Move up: ${task.title}`,
            title: "Move up",
            disabled: index === 0,
            dataset: { focusKey: `task:${task.id}:up` },
            onclick: () => this.#move(task, -1)?.catch(reportError),
          },
          "↑",
        ),
        h(
          "button",
          {
            type: "button",
            class: "icon-button",
            "aria-label": `Move down: ${task.title}`,
            title: "Move down",
            disabled: index === count - 1,
            dataset: { focusKey: `task:${task.id}:down` },
            onclick: () => this.#move(task, 1)?.catch(reportError),
          },
          "↓",
        ),
        h(
          "button",
          {
            type: "button",
            class: "icon-button danger",
            "aria-label": `Delete: ${task.title}`,
            title: "Delete",
            onclick: () => this.#deleteTask(task).catch(reportError),
          },
          "×",
        ),
      ),
    );
    return li;
  }

  /** Draws the rows last read again (after a change of state that is not in the database). */
  #redraw() {
    this.render(this.#lists, [...this.#tasksByList.values()].flat());
  }

  /** Puts a saved title or name into the rows last drawn. */
  #remember(kind, id, text) {
    if (kind === "list") {
      const list = this.#lists.find((l) => l.id === id);
      if (list) list.name = text;
      return;
    }
    for (const tasks of this.#tasksByList.values()) {
      const task = tasks.find((t) => t.id === id);
      if (task) task.title = text;
    }
  }

  /** Replaces `container`'s content with a text field; Enter or leaving saves, Escape cancels. */
  #openEditor(kind, id, container, value, save) {
    const input = h("input", {
      class: "edit-input",
      value,
      "aria-label": kind === "task" ? "Task title" : "List name",
      autocomplete: "off",
    });
    let finished = false;
    const finish = (commit) => {
      if (finished) return;
      finished = true;
      this.#editing = null;
      const text = input.value.trim();
      const focusKey = `${kind}:${id}:${kind === "task" ? "title" : "name"}`;
      // The editor closes with the saved text at once; the refresh the write asked for follows.
      const done =
        commit && text && text !== value ? save(text).then(() => this.#remember(kind, id, text)) : Promise.resolve();
      done
        .catch(reportError)
        .finally(() => {
          this.#redraw();
          document.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
        });
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        finish(true);
      } else if (event.key === "Escape") {
        event.preventDefault();
        finish(false);
      }
    });
    input.addEventListener("blur", () => finish(true));
    const editor = h("div", { class: "editor" }, input);
    if (kind === "task") {
      container.querySelector(".task-title").replaceWith(editor);
    } else {
      container.replaceChildren(editor);
    }
    this.#editing = { kind, id, element: kind === "task" ? container : container };
    input.focus();
    input.select();
  }
}

function reportError(err) {
  // Local writes fail only on bugs or a closed database; show them where developers look.
  console.error(err);
  window.dispatchEvent(new CustomEvent("demo-error", { detail: err }));
}

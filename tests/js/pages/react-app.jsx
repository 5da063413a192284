// A React app over outpost-sqlite/react, bundled by react.test.mjs with esbuild and run in app.html:
// window.reactApp.mount(db) renders a todo list (useQuery, its filter a parameter) and the sync
// status (useSyncStatus), and counts the watches the hooks hold open on `db`.
import { useState } from "react";
import { createRoot } from "react-dom/client";
import { useQuery, useSyncStatus } from "outpost-sqlite/react";

function Todos({ db, sql }) {
  const [done, setDone] = useState(0);
  const { rows, error, loading } = useQuery(db, sql, [done]);
  return (
    <section id="todos" data-loading={String(loading)}>
      <button id="show-done" onClick={() => setDone(1)}>done</button>
      {error && <p id="error">{error.code}</p>}
      <ul>{rows?.map((row) => <li key={row.id}>{row.title}</li>)}</ul>
    </section>
  );
}

function Status({ db }) {
  const status = useSyncStatus(db);
  if (!status) return null;
  return (
    <p id="status" data-state={status.state} data-pending={status.pending} data-error={status.lastError?.code ?? ""}>
      {status.state}
    </p>
  );
}

window.reactApp = {
  watches: 0,
  mount(db, sql = "SELECT id, title FROM todos WHERE done = ? ORDER BY id") {
    // The hooks see a database whose watch() counts the watches open.
    const counted = new Proxy(db, {
      get(target, name) {
        if (name !== "watch") {
          const value = target[name];
          return typeof value === "function" ? value.bind(target) : value;
        }
        return (...args) => {
          window.reactApp.watches += 1;
          const stop = target.watch(...args);
          return () => {
            window.reactApp.watches -= 1;
            stop();
          };
        };
      },
    });
    const container = document.createElement("div");
    document.body.append(container);
    const root = createRoot(container);
    root.render(
      <>
        <Todos db={counted} sql={sql} />
        <Status db={counted} />
      </>,
    );
    return () => {
      root.unmount();
      container.remove();
    };
  },
};

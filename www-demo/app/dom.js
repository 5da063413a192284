// A tiny element builder, and focus that survives a re-render: elements carry data-focus-key,
// and the key of the focused one is looked up again after the DOM is rebuilt.

/** h("button", { class: "x", onclick }, "text", child) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/**
 * Makes `children` the content of `parent`, in order, moving only the nodes that are out of place.
 * Moving a node (even to where it already is) takes focus from whatever inside it had it, and the
 * keystroke or edit in progress with it: a task being typed while a remote change re-renders the
 * board must not lose its Enter.
 */
export function placeChildren(parent, children) {
  // Nodes that are going first: left in place, each would put the kept nodes after it out of
  // place, and the open editor among them would be moved (and closed by its blur).
  const kept = new Set(children);
  for (const node of [...parent.childNodes]) if (!kept.has(node)) node.remove();
  let next = parent.firstChild;
  for (const child of children) {
    if (child === next) {
      next = next.nextSibling;
    } else {
      parent.insertBefore(child, next);
    }
  }
}

/** Runs `render`, then gives focus back to the element with the same data-focus-key. */
export function keepingFocus(render) {
  const key = document.activeElement?.dataset?.focusKey;
  render();
  if (!key) return;
  const again = document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
  if (again && document.activeElement !== again) again.focus({ preventScroll: true });
}

export function formatMicros(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  const us = ms * 1000;
  if (us < 10_000) return `${Math.round(us).toLocaleString("en")} µs`;
  return `${(ms).toFixed(1)} ms`;
}

export function formatTime(epochMs) {
  if (!epochMs) return "never";
  return new Date(epochMs).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function ago(epochMs, now = Date.now()) {
  if (!epochMs) return "";
  const s = Math.max(0, Math.round((now - epochMs) / 1000));
  if (s < 2) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  return m < 60 ? `${m} min ago` : `${Math.round(m / 60)} h ago`;
}

// Who is at this page. With the board's sync rules (scripts/demo.sh) the primary serves users.json
// beside the page: each user of the board with a token for its database (scripts/demo-users.mjs),
// and `?user=ben` picks one (the first by default). With no users in it (`DEMO_USERS=0`, a primary
// started with --no-auth), or no file at all, nobody signs in: one shared board, the same for everyone.
//
// A page holding its users' tokens is a local demo's shortcut; an app gets its user's token from
// its backend after they sign in, and never sees anyone else's.

/**
 * @returns {Promise<null | { id: string, name: string, token: string, database: string,
 *   users: { id: string, name: string }[] }>}
 */
export async function whoIsHere(params) {
  let response;
  try {
    response = await fetch("./users.json", { cache: "no-store" });
  } catch {
    return null;
  }
  if (!response.ok) return null;
  const { database, users = [] } = await response.json();
  if (users.length === 0) return null;
  const wanted = (params.get("user") ?? "").toLowerCase();
  const user = users.find((u) => u.id === wanted) ?? users[0];
  return { ...user, database, users: users.map(({ id, name }) => ({ id, name })) };
}

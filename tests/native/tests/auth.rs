//! Tokens open one database each: a token for "a" works on "a", is forbidden on "b", and a
//! request without a valid token is unauthorized. Nothing refused reaches the store.

use std::time::Duration;

use outpost::Error;
use outpost_primary::{mint_token, Auth};
use outpost_tests::replica::text;
use outpost_tests::{HttpTransport, Replica, TestPrimary};

const TODOS: &str = "CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT)";
const SECRET: &[u8] = b"native-tests-secret-0123456789";

fn refusal(result: outpost::Result<outpost::sync::SyncReport>) -> (u16, String) {
    match result {
        Err(Error::Primary { status, code, .. }) => (status, code),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_token_opens_its_own_database_and_no_other() {
    let primary = TestPrimary::start_with(TODOS, Auth::Secret(SECRET.to_vec()));
    let dir = outpost_tests::scratch_dir();
    let hour = Duration::from_secs(3600);
    let token_a = mint_token(SECRET, "alice", "a", hour);
    let replica = Replica::open(dir.path(), "alice", &[TODOS], &["todos"]);
    replica.run("INSERT INTO todos VALUES ('1', 'mine')");

    let on_b = HttpTransport::new(primary.endpoint(), "b").with_token(&token_a);
    assert_eq!(refusal(replica.sync(&on_b)), (403, "FORBIDDEN".into()));
    let anonymous = HttpTransport::new(primary.endpoint(), "a");
    assert_eq!(
        refusal(replica.sync(&anonymous)),
        (401, "UNAUTHORIZED".into())
    );
    let forged = mint_token(b"some-other-secret-0123456789", "alice", "a", hour);
    let forged = HttpTransport::new(primary.endpoint(), "a").with_token(&forged);
    assert_eq!(refusal(replica.sync(&forged)), (401, "UNAUTHORIZED".into()));
    assert_eq!(replica.pending(), 1, "refused pushes settle nothing");
    assert!(!primary.database_path("b").exists());
    assert!(!primary.database_path("a").exists());

    let on_a = HttpTransport::new(primary.endpoint(), "a").with_token(&token_a);
    replica.sync(&on_a).expect("the token for a works on a");
    assert_eq!(replica.pending(), 0);
    assert_eq!(
        primary.rows("a", "SELECT id, title FROM todos"),
        vec![vec![text("1"), text("mine")]]
    );
    assert!(!primary.database_path("b").exists());

    // Bob's token for "b" opens "b", which knows nothing of "a".
    let bob = Replica::open(dir.path(), "bob", &[TODOS], &["todos"]);
    let token_b = mint_token(SECRET, "bob", "b", hour);
    bob.sync(&HttpTransport::new(primary.endpoint(), "b").with_token(&token_b))
        .expect("the token for b works on b");
    assert!(bob.rows("SELECT * FROM todos").is_empty());
}

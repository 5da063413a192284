//! Changes reach other replicas promptly: a long-poll pull returns soon after another replica's
//! push lands, and writes made on the primary's file by anything else (a backend job, a SQL
//! shell) are captured by its triggers and reach replicas too, waiting pulls included.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use outpost::sync::Transport;
use outpost_tests::replica::text;
use outpost_tests::{block_on, HttpTransport, Replica, World};

const TODOS: &str = "CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT)";
const ALL_TODOS: &str = "SELECT id, title FROM todos ORDER BY id";
/// How soon a waiting replica must see another's write.
const LIVE_BOUND: Duration = Duration::from_millis(500);

/// Start a pull that waits up to `wait` on another thread; `started` fires just before it is
/// sent. Answers when it returned and how many changes it applied.
fn waiting_pull<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    replica: &'scope mut Replica,
    transport: &HttpTransport,
    wait: Duration,
    started: mpsc::Sender<()>,
) -> std::thread::ScopedJoinHandle<'scope, (Instant, usize)> {
    let transport = transport.clone();
    scope.spawn(move || {
        let request = replica.db().pull_request(wait.as_millis() as u64).unwrap();
        started.send(()).unwrap();
        let response = block_on(transport.pull(&request)).unwrap();
        let returned = Instant::now();
        let outcome = replica
            .db()
            .apply_pull_response(&request, &response)
            .unwrap();
        (returned, outcome.pulled)
    })
}

#[test]
fn a_waiting_pull_returns_soon_after_another_replica_pushes() {
    let world = World::new(TODOS, ALL_TODOS);
    let a = synced_replica(&world, "a");
    let mut b = synced_replica(&world, "b");
    let mut latencies = Vec::new();
    for round in 0..5 {
        let (started, ready) = mpsc::channel();
        let (returned, pulled, pushed_at) = std::thread::scope(|scope| {
            let pull = waiting_pull(
                scope,
                &mut b,
                &world.transport,
                Duration::from_secs(10),
                started,
            );
            ready.recv().unwrap();
            // Let the pull reach the primary and start waiting.
            std::thread::sleep(Duration::from_millis(100));
            a.run(&format!("INSERT INTO todos VALUES ('{round}', 'live')"));
            let pushed_at = Instant::now();
            let request = a.db().push_request(100).unwrap().unwrap();
            let response = block_on(world.transport.push(&request)).unwrap();
            a.db().apply_push_response(&request, &response).unwrap();
            let (returned, pulled) = pull.join().unwrap();
            (returned, pulled, pushed_at)
        });
        assert_eq!(pulled, 1, "round {round}: the pull carried A's row");
        latencies.push(returned.saturating_duration_since(pushed_at));
    }
    latencies.sort();
    println!(
        "live: push start -> waiting pull returned: min {:?}, median {:?}, max {:?}",
        latencies[0], latencies[2], latencies[4]
    );
    assert!(latencies[4] < LIVE_BOUND, "{latencies:?}");
    assert_eq!(b.rows(ALL_TODOS), a.rows(ALL_TODOS));
}

#[test]
fn direct_sql_on_the_primary_file_reaches_replicas() {
    let world = World::new(TODOS, ALL_TODOS);
    let a = synced_replica(&world, "a");
    a.run("INSERT INTO todos VALUES ('1', 'from a'), ('2', 'also from a')");
    a.sync(&world.transport).unwrap();

    // A backend job writes to the file while the server runs.
    let job = world.primary.open_file("app");
    job.execute_batch(
        "INSERT INTO todos VALUES ('job', 'from a backend job');
         UPDATE todos SET title = 'edited by the job' WHERE id = '1';
         DELETE FROM todos WHERE id = '2';",
    )
    .unwrap();
    let report = a.sync(&world.transport).unwrap();
    assert_eq!(report.pulled, 3);
    let expected = vec![
        vec![text("1"), text("edited by the job")],
        vec![text("job"), text("from a backend job")],
    ];
    assert_eq!(world.primary.rows("app", ALL_TODOS), expected);
    assert_eq!(a.rows(ALL_TODOS), expected);
    let b = synced_replica(&world, "b");
    assert_eq!(b.rows(ALL_TODOS), expected);
}

#[test]
fn a_waiting_pull_returns_a_write_made_directly_on_the_primary_file() {
    let world = World::new(TODOS, ALL_TODOS);
    let mut a = synced_replica(&world, "a");
    let wait = Duration::from_secs(10);
    let (started, ready) = mpsc::channel();
    let (returned, pulled, written_at) = std::thread::scope(|scope| {
        let pull = waiting_pull(scope, &mut a, &world.transport, wait, started);
        ready.recv().unwrap();
        std::thread::sleep(Duration::from_millis(150));
        let written_at = Instant::now();
        world
            .primary
            .open_file("app")
            .execute("INSERT INTO todos VALUES ('sql', 'from the shell')", [])
            .unwrap();
        let (returned, pulled) = pull.join().unwrap();
        (returned, pulled, written_at)
    });
    let latency = returned.saturating_duration_since(written_at);
    println!("live: direct write -> waiting pull returned: {latency:?}");
    assert_eq!(pulled, 1);
    // No signal crosses processes: the primary re-checks on a timer, well inside the wait.
    assert!(latency < Duration::from_secs(2), "{latency:?}");
    assert_eq!(
        a.rows(ALL_TODOS),
        vec![vec![text("sql"), text("from the shell")]]
    );
}

/// A replica that has pulled what the primary has.
fn synced_replica(world: &World, name: &str) -> Replica {
    let replica = world.replica(name);
    replica.sync(&world.transport).unwrap();
    replica
}

//! The `outpost-primary` command run as an operator runs it, for the primary's command-line
//! tests: spawned with its stdout piped, its address read from the `listening on` line it prints
//! once it listens, and killed when dropped, however the test ends. Its log goes to a file, read
//! only to say why it did not start. A server that must stop its own children first (the Durable
//! Object primary's `node primary-do/serve.mjs`, whose workerd would outlive a kill) is stopped by
//! closing its stdin instead.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::process::{Child, Command, Stdio};

use crate::{Api, Endpoint};

pub struct ServingCommand {
    child: Child,
    url: String,
    stops_when_stdin_closes: bool,
}

impl ServingCommand {
    /// Spawn `command` (a `serve` that must start) and wait until it says where it listens.
    pub fn spawn(command: Command) -> ServingCommand {
        ServingCommand::spawn_with(command, false)
    }

    /// As [`ServingCommand::spawn`], for a server that stops, and waits for what it started,
    /// when its stdin closes: when this is dropped, or when the test process dies.
    pub fn spawn_stopped_by_stdin(command: Command) -> ServingCommand {
        ServingCommand::spawn_with(command, true)
    }

    fn spawn_with(mut command: Command, stops_when_stdin_closes: bool) -> ServingCommand {
        let log = tempfile::tempfile().expect("a file for the command's log");
        let stdin = match stops_when_stdin_closes {
            true => Stdio::piped(),
            false => Stdio::null(),
        };
        let mut child = command
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(log.try_clone().unwrap())
            .spawn()
            .expect("spawn the server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the command's first line");
        let mut serving = ServingCommand {
            child,
            url: String::new(),
            stops_when_stdin_closes,
        };
        match line.trim().strip_prefix("listening on ") {
            Some(url) => serving.url = url.to_owned(),
            None => {
                // Stopped, so its log is complete.
                let _ = serving.child.kill();
                let _ = serving.child.wait();
                let mut stderr = String::new();
                let mut log = log;
                let _ = log.seek(SeekFrom::Start(0));
                let _ = log.read_to_string(&mut stderr);
                panic!("the command did not start listening: {line:?}\n{stderr}")
            }
        }
        serving
    }

    /// The base URL it printed, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A JSON client for database `database` on it.
    pub fn api(&self, database: &str) -> Api {
        Api::new(Endpoint::fixed(&self.url), database)
    }
}

impl Drop for ServingCommand {
    fn drop(&mut self) {
        match self.stops_when_stdin_closes {
            true => drop(self.child.stdin.take()),
            false => {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

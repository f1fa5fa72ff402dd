//! The private PostgreSQL server of `patrol_test_support::postgres`: it starts, serves its
//! databases, survives an outage with its data, and is shared within the process.

use std::process::Command;

use patrol_test_support::postgres::Postgres;

/// Runs `sql` with `psql` on the database at `url`; its output (unaligned, tuples only) if it
/// succeeds, else what it said.
fn psql(server: &Postgres, url: &str, sql: &str) -> Result<String, String> {
    let output = Command::new(server.program("psql"))
        .args(["-X", "-v", "ON_ERROR_STOP=1", url, "-tAc", sql])
        .output()
        .expect("psql runs");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[test]
fn a_server_serves_databases_and_keeps_them_through_an_outage() {
    let server = Postgres::start();
    assert!(server.is_ready());
    let first = server.create_database("first");
    let second = server.create_database("second");
    assert_ne!(first, second);
    assert!(first.starts_with(&format!(
        "postgres://postgres@127.0.0.1:{}/first_",
        server.port()
    )));
    assert_eq!(psql(&server, &first, "select 1").as_deref(), Ok("1"));
    psql(
        &server,
        &second,
        "create table kept (id int); insert into kept values (42)",
    )
    .unwrap();
    // Each database is its own.
    assert!(psql(&server, &first, "select id from kept").is_err());

    server.stop();
    assert!(!server.is_ready());
    assert!(psql(&server, &first, "select 1").is_err());

    server.restart();
    assert!(server.is_ready());
    assert_eq!(psql(&server, &first, "select 1").as_deref(), Ok("1"));
    assert_eq!(
        psql(&server, &second, "select id from kept").as_deref(),
        Ok("42")
    );
}

#[test]
fn the_shared_server_is_started_once() {
    let server = Postgres::shared();
    assert_eq!(server.port(), Postgres::shared().port());
    assert!(server.is_ready());
    let url = server.create_database("shared");
    assert_eq!(
        psql(server, &url, "select current_database()").as_deref(),
        Ok(url.rsplit('/').next().unwrap())
    );
}

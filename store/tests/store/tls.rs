//! TLS to PostgreSQL, against a real server offering it with a certificate of a private CA:
//! the store connects over TLS when the URL names the CA (`sslrootcert`, as libpq reads it),
//! refuses a server it cannot verify under `sslmode=require`, and says why.

use patrol_store::tokens::{PgStore, TokenStore};
use patrol_test_support::postgres::Postgres;

#[test]
#[cfg_attr(
    not(patrol_has_postgres),
    ignore = "needs PostgreSQL: apt-get install postgresql"
)]
fn the_store_speaks_tls_to_a_server_it_can_verify_and_only_to_it() {
    let (server, ca) = Postgres::start_with_tls();
    let url = server.create_database("tls");
    let ca = ca.display().to_string();

    let store = PgStore::connect(&format!("{url}?sslmode=require&sslrootcert={ca}")).unwrap();
    assert_eq!(store.last_change().unwrap(), 0);
    // The store's own connections are encrypted, as the server sees them.
    let encrypted = server.psql(
        &url,
        "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
         WHERE a.application_name = 'patrol'",
    );
    assert_eq!(encrypted, "t");
    // The URL's password-free form names the CA file in no message; an unknown CA is refused.
    let error = PgStore::connect(&format!("{url}?sslmode=require"))
        .err()
        .expect("a server whose certificate nobody vouches for is refused")
        .to_string();
    assert!(error.contains("cannot open"), "{error}");
    let causes = format!(
        "{:?}",
        PgStore::connect(&format!("{url}?sslmode=require")).err()
    );
    assert!(
        causes.to_lowercase().contains("certificate") || causes.contains("UnknownIssuer"),
        "{causes}"
    );
    // A CA file that is not one is named.
    let error = PgStore::connect(&format!("{url}?sslrootcert=/nonexistent/ca.pem"))
        .err()
        .unwrap();
    let message = patrol::with_causes(&error);
    assert!(
        message.contains("sslrootcert") && message.contains("/nonexistent/ca.pem"),
        "{message}"
    );
}

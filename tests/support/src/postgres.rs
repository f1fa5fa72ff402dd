//! A real PostgreSQL server of the test's own: tests never depend on one already running.
//!
//! [`Postgres::start`] runs `initdb` into a fresh temporary folder and starts the server on a
//! free loopback port, with trust authentication. PostgreSQL refuses to run as root, so when the
//! tests do, its programs run as the `postgres` user (`runuser -u postgres --`), which owns the
//! folder. A watchdog shell process stops the server and removes the folder once the test
//! process is gone, so nothing outlives a killed test, nor [`Postgres::shared`], which as a
//! static is never dropped.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The environment variable naming the folder of PostgreSQL's programs, if not found alone.
pub const BIN_VAR: &str = "PATROL_PG_BIN";

/// How long `pg_ctl` waits for the server to start or stop, in seconds.
const TIMEOUT_SECONDS: &str = "60";

/// How many ports [`Postgres::start`] tries when the one it picked is taken meanwhile.
const PORT_ATTEMPTS: usize = 5;

/// Numbers the servers and databases of this process, for unique names.
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A private PostgreSQL server for one test process, in a temporary folder of its own
/// (`patrol-pg-<pid>-<n>` under [`std::env::temp_dir`]): listening on 127.0.0.1 only, on a free
/// port, with small memory settings, trust authentication for every local or loopback
/// connection, and its unix socket in its own folder. Dropping it stops the server and removes
/// the folder.
pub struct Postgres {
    /// The temporary folder: the data folder `data`, the log `server.log`, the unix socket.
    dir: PathBuf,
    /// The folder of PostgreSQL's programs.
    bin: PathBuf,
    /// The TCP port the server listens on, at 127.0.0.1.
    port: u16,
    /// Whether the server's programs run as the `postgres` user (the tests run as root).
    as_postgres: bool,
    /// The watchdog that cleans up if this process dies without dropping the server.
    watchdog: Child,
}

impl Postgres {
    /// Starts a new server and waits until it accepts connections (60 s at most); panics with the
    /// server's log if it does not.
    pub fn start() -> Postgres {
        let bin = bin_dir();
        let as_postgres = is_root();
        let dir = std::env::temp_dir().join(format!(
            "patrol-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        // A folder left by an earlier process of the same id.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir)
            .unwrap_or_else(|error| panic!("cannot create `{}`: {error}", dir.display()));
        if as_postgres {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(&dir));
        }
        let watchdog = spawn_watchdog(&dir, &bin, as_postgres);
        // From here on, dropping `server` (even while panicking) cleans up.
        let mut server = Postgres {
            dir,
            bin,
            port: 0,
            as_postgres,
            watchdog,
        };
        server.init();
        for attempt in 1..=PORT_ATTEMPTS {
            server.port = free_port();
            let log_before = server.log().len();
            match server.pg_ctl_start() {
                Ok(()) => return server,
                Err(_) if attempt < PORT_ATTEMPTS && server.port_was_taken(log_before) => {}
                Err(error) => server.fail("start", &error),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Starts a new server (as [`Postgres::start`]) that also offers TLS, with a certificate
    /// for `localhost` and `127.0.0.1` signed by a CA of its own; returns it and the CA's
    /// certificate (PEM), for clients to trust. Needs the `openssl` program.
    pub fn start_with_tls() -> (Postgres, PathBuf) {
        let server = Postgres::start();
        let tls = server.dir.join("tls");
        std::fs::create_dir_all(&tls)
            .unwrap_or_else(|error| panic!("cannot create `{}`: {error}", tls.display()));
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(&tls)
                .output();
            check(output, &format!("openssl {}", args.join(" ")));
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=patrol test CA",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            tls.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .expect("the extensions file");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ]);
        if server.as_postgres {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(&tls));
        }
        run(Command::new("chmod").arg("600").arg(tls.join("server.key")));
        let path = |name: &str| sql_quote(tls.join(name).to_str().expect("UTF-8 paths"));
        let url = server.url("postgres");
        server.psql(
            &url,
            &format!("ALTER SYSTEM SET ssl_cert_file = {}", path("server.crt")),
        );
        server.psql(
            &url,
            &format!("ALTER SYSTEM SET ssl_key_file = {}", path("server.key")),
        );
        server.psql(&url, "ALTER SYSTEM SET ssl = on");
        server.psql(&url, "SELECT pg_reload_conf()");
        // The reload is asynchronous: wait until new connections are offered TLS.
        for _ in 0..100 {
            if server.psql(&url, "SHOW ssl") == "on" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let ca = tls.join("ca.crt");
        (server, ca)
    }

    /// The server shared by every test of this process, started on first use. Tests isolate
    /// themselves by creating their own database on it ([`Postgres::create_database`]).
    pub fn shared() -> &'static Postgres {
        static SHARED: OnceLock<Postgres> = OnceLock::new();
        SHARED.get_or_init(Postgres::start)
    }

    /// The TCP port the server listens on, at 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for the database `database`, as the `postgres` superuser:
    /// `postgres://postgres@127.0.0.1:{port}/{database}`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// The path of PostgreSQL's program `name` (`psql`, `pg_dump`...), from the installation
    /// that runs this server.
    pub fn program(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    /// Creates a new, empty database named `{prefix}_{n}_{pid}` (unique in this process and
    /// among processes) and returns its URL.
    pub fn create_database(&self, prefix: &str) -> String {
        let name = format!(
            "{prefix}_{}_{}",
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::process::id()
        );
        let output = self
            .client("createdb")
            .args(["-U", "postgres", "--", &name])
            .output();
        check(output, &format!("createdb {name}"));
        self.url(&name)
    }

    /// Runs `sql` with `psql` against the database at `url` and returns what it printed
    /// (unaligned, tuples only); panics with psql's message if it fails.
    pub fn psql(&self, url: &str, sql: &str) -> String {
        let output = Command::new(self.program("psql"))
            .args(["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
            .current_dir(&self.dir)
            .output();
        check(output, &format!("psql {sql}"))
    }

    /// Stops the server quickly but cleanly, keeping its data, as an outage would.
    pub fn stop(&self) {
        let output = self
            .server_command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "-t", TIMEOUT_SECONDS])
            .output();
        check(output, "pg_ctl stop");
    }

    /// Starts the server again on the same data and port, and waits until it accepts
    /// connections; panics with the server's log if it does not.
    pub fn restart(&self) {
        if let Err(error) = self.pg_ctl_start() {
            self.fail("restart", &error);
        }
    }

    /// Whether the server accepts connections now.
    pub fn is_ready(&self) -> bool {
        self.client("pg_isready")
            .args(["-U", "postgres", "-d", "postgres", "-q"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// The data folder.
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The server's log file.
    fn log_file(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// The server's log so far (empty if there is none yet).
    fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    /// Creates the data folder and writes the server's settings.
    fn init(&self) {
        let output = self
            .server_command("initdb")
            .arg("-D")
            .arg(self.data())
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"])
            .output();
        check(output, "initdb");
        let socket_dir = self.dir.to_str().expect("the temporary folder is UTF-8");
        let mut settings = String::from("\n# patrol's test settings\n");
        for (name, value) in [
            ("listen_addresses", "'127.0.0.1'"),
            ("unix_socket_directories", &sql_quote(socket_dir)),
            ("shared_buffers", "16MB"),
            ("max_connections", "200"),
            ("fsync", "on"),
            ("synchronous_commit", "on"),
        ] {
            let _ = writeln!(settings, "{name} = {value}");
        }
        let conf = self.data().join("postgresql.conf");
        // Appending keeps the file's owner (`postgres` when the tests run as root).
        let appended = std::fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut file| std::io::Write::write_all(&mut file, settings.as_bytes()));
        if let Err(error) = appended {
            panic!("cannot write `{}`: {error}", conf.display());
        }
    }

    /// `pg_ctl start` on this server's port, waiting until it accepts connections; the output
    /// of `pg_ctl` if it fails.
    fn pg_ctl_start(&self) -> Result<(), String> {
        let output = self
            .server_command("pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.log_file())
            .arg("-o")
            .arg(format!("-p {}", self.port))
            .args(["-w", "-t", TIMEOUT_SECONDS])
            .output();
        match output {
            Ok(output) if output.status.success() => Ok(()),
            Ok(output) => Err(describe(&output)),
            Err(error) => Err(format!("cannot run pg_ctl: {error}")),
        }
    }

    /// Whether the server failed to start because its port was taken, judging by what it logged
    /// after `log_before` bytes.
    fn port_was_taken(&self, log_before: usize) -> bool {
        let log = self.log();
        let new = log.get(log_before..).unwrap_or(&log);
        new.contains("already in use") || new.contains("could not create any TCP/IP sockets")
    }

    /// Panics, saying that `what` failed with `error`, with the server's log.
    fn fail(&self, what: &str, error: &str) -> ! {
        panic!(
            "PostgreSQL failed to {what} on port {}: {error}\n--- {} ---\n{}",
            self.port,
            self.log_file().display(),
            self.log()
        )
    }

    /// A command running PostgreSQL's server program `name` (`initdb`, `pg_ctl`), as the
    /// `postgres` user when the tests run as root, from the temporary folder (so it can read
    /// its working directory).
    fn server_command(&self, name: &str) -> Command {
        let mut command = as_server_user(&self.bin.join(name), self.as_postgres);
        command.current_dir(&self.dir).stdin(Stdio::null());
        command
    }

    /// A command running PostgreSQL's client program `name` against this server over TCP.
    fn client(&self, name: &str) -> Command {
        let mut command = Command::new(self.program(name));
        command
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null());
        command
    }
}

impl Drop for Postgres {
    /// Stops the server at once (if it runs) and removes its folder, then the watchdog.
    fn drop(&mut self) {
        let _ = self
            .server_command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "-t", TIMEOUT_SECONDS])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

/// The folder of PostgreSQL's programs: `$PATROL_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian), else `pg_config --bindir`, else the folder on
/// `PATH` with `initdb`. Panics if none has both `initdb` and `postgres`.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(BIN_VAR) {
        let dir = PathBuf::from(dir);
        if has_server(&dir) {
            return dir;
        }
        panic!(
            "{BIN_VAR} is `{}`, which has no initdb and postgres",
            dir.display()
        );
    }
    let mut debian: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: Result<Vec<u32>, _> = entry
                .file_name()
                .to_str()?
                .split('.')
                .map(str::parse)
                .collect();
            Some((version.ok()?, entry.path().join("bin")))
        })
        .collect();
    debian.sort();
    let pg_config = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let path = std::env::var_os("PATH").unwrap_or_default();
    debian
        .into_iter()
        .rev()
        .map(|(_, dir)| dir)
        .chain(pg_config)
        .chain(std::env::split_paths(&path))
        .find(|dir| has_server(dir))
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed: tests need initdb and postgres \
                 (Debian: apt-get install postgresql); set {BIN_VAR} to its bin folder"
            )
        })
}

/// Whether `dir` holds PostgreSQL's server programs.
fn has_server(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("postgres").is_file()
}

/// Whether this process runs as root (effective user id 0): from `/proc/self/status`, else
/// `id -u`.
fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let from_proc = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"));
    from_proc.unwrap_or_else(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
    })
}

/// A command running `program` as the `postgres` user if `as_postgres`, else as this process.
fn as_server_user(program: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Starts the process that, once this process is gone, stops the server in `dir` at once and
/// removes `dir`. It is detached from the test's output (so `cargo test` does not wait for it)
/// and from its process group (so Ctrl-C does not stop it before the server).
fn spawn_watchdog(dir: &Path, bin: &Path, as_postgres: bool) -> Child {
    let quote = |path: &Path| shell_quote(&path.to_string_lossy());
    let pg_ctl = if as_postgres {
        format!("runuser -u postgres -- {}", quote(&bin.join("pg_ctl")))
    } else {
        quote(&bin.join("pg_ctl"))
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         {pg_ctl} stop -D {data} -m immediate -w -t {TIMEOUT_SECONDS}; rm -rf {dir}",
        pid = std::process::id(),
        data = quote(&dir.join("data")),
        dir = quote(dir),
    );
    std::os::unix::process::CommandExt::process_group(
        Command::new("sh")
            .args(["-c", &script])
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        0,
    )
    .spawn()
    .unwrap_or_else(|error| panic!("cannot start the PostgreSQL watchdog (sh): {error}"))
}

/// A port of 127.0.0.1 free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|error| panic!("cannot find a free port: {error}"))
}

/// Runs `command`, panicking with its output if it fails.
fn run(command: &mut Command) {
    let what = format!("{command:?}");
    check(command.output(), &what);
}

/// Panics with the output of `what` if it could not run or failed.
fn check(output: std::io::Result<Output>, what: &str) -> String {
    match output {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout)
            .trim_end()
            .to_string(),
        Ok(output) => panic!("{what} failed: {}", describe(&output)),
        Err(error) => panic!("cannot run {what}: {error}"),
    }
}

/// A failed process's exit status, standard output and standard error.
fn describe(output: &Output) -> String {
    format!(
        "{}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `text` as a single-quoted shell word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `text` as a single-quoted string of PostgreSQL's configuration file.
fn sql_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

//! A webhook receiver on loopback for the tests of notifications: it records the body of every
//! POST it answers, fails the first few on purpose if asked to, and stops when dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A running receiver.
pub struct Webhook {
    url: String,
    received: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Webhook {
    /// Starts a receiver that answers the first `fail` calls with 500 (without recording
    /// them) and every later one with 204.
    pub fn start(fail: usize) -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let url = format!(
            "http://{}/hook",
            listener.local_addr().expect("its address")
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (Arc::clone(&received), Arc::clone(&stop));
        thread::spawn(move || {
            let mut calls = 0;
            while !stopped.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(5));
                    continue;
                };
                if stream.set_nonblocking(false).is_err() {
                    continue;
                }
                let mut reader = BufReader::new(stream);
                let Some(body) = read_request(&mut reader) else {
                    continue;
                };
                calls += 1;
                let status = if calls <= fail {
                    "500 Internal Server Error"
                } else {
                    seen.lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .push(body);
                    "204 No Content"
                };
                let _ = reader.get_mut().write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                );
            }
        });
        Webhook {
            url,
            received,
            stop,
        }
    }

    /// Where to send notifications.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bodies received so far (the failed calls' left out), in order.
    pub fn bodies(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one HTTP/1.1 request's body (by its `content-length`).
fn read_request(reader: &mut impl BufRead) -> Option<String> {
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().ok()?;
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    String::from_utf8(body).ok()
}

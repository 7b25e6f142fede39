//! Git's smart HTTP protocol for tests: the real `git http-backend` (CGI) behind a small
//! HTTP/1.1 server on a loopback port that asks for Basic authentication with one token,
//! as a forge does; over plain HTTP, or HTTPS with a self-signed certificate made by the
//! `openssl` command (rustls serves it).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET /remote.git/info/refs?service=git-upload-pack`.
    pub line: String,
    /// The user name of Basic authentication, when given.
    pub user: Option<String>,
    /// Whether the token matched.
    pub authorized: bool,
}

/// A running server, stopped with the test process.
pub struct GitHttp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl GitHttp {
    /// Serves the repositories under `root` over HTTP to clients that give `token` as the
    /// password.
    pub fn start(root: &Path, token: &str) -> GitHttp {
        Self::start_with(root, token, None)
    }

    /// Like [`GitHttp::start`], over HTTPS (`https://localhost:PORT`) with a self-signed
    /// certificate for `localhost`, written to `dir/cert.pem`: trust that file (for libgit2
    /// with OpenSSL, `SSL_CERT_FILE`).
    pub fn start_tls(root: &Path, token: &str, dir: &Path) -> (GitHttp, PathBuf) {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let out = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
            .args(["-subj", "/CN=localhost", "-addext"])
            .args(["subjectAltName=DNS:localhost", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_file_iter(&cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key_der = PrivateKeyDer::from_pem_file(&key).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .unwrap();
        let server = Self::start_with(root, token, Some(Arc::new(config)));
        (server, cert)
    }

    fn start_with(root: &Path, token: &str, tls: Option<Arc<rustls::ServerConfig>>) -> GitHttp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let base = match tls {
            Some(_) => format!("https://localhost:{port}"),
            None => format!("http://127.0.0.1:{port}"),
        };
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (root, token, log) = (root.to_path_buf(), token.to_string(), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let (root, token, log, tls) =
                    (root.clone(), token.clone(), log.clone(), tls.clone());
                std::thread::spawn(move || match tls {
                    Some(config) => {
                        let Ok(conn) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        serve(rustls::StreamOwned::new(conn, stream), &root, &token, &log);
                    }
                    None => serve(stream, &root, &token, &log),
                });
            }
        });
        GitHttp { base, seen }
    }

    /// The URL of a repository under the root (`remote.git`).
    pub fn url(&self, repo: &str) -> String {
        format!("{}/{repo}", self.base)
    }

    /// The requests so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// One connection: requests until the client closes it (keep-alive, as libgit2 expects).
fn serve<S: Read + Write>(stream: S, root: &Path, token: &str, log: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end().to_string();
        let mut headers: Vec<(String, String)> = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let body = if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
            read_chunked(&mut reader)
        } else {
            let len: usize = header("content-length").map_or(0, |v| v.parse().unwrap());
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            body
        };
        let credentials = header("authorization")
            .and_then(|v| v.strip_prefix("Basic ").map(str::to_string))
            .and_then(|b| STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok());
        let (user, password) = match credentials.as_deref().and_then(|c| c.split_once(':')) {
            Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
            None => (None, None),
        };
        let authorized = password.as_deref() == Some(token);
        log.lock().unwrap().push(Seen {
            line: line.clone(),
            user: user.clone(),
            authorized,
        });
        if !authorized {
            let _ = reader.get_mut().write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\n\r\n",
            );
            let _ = reader.get_mut().flush();
            continue;
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let response = http_backend(root, method, path, query, &header, user.as_deref(), &body);
        if reader.get_mut().write_all(&response).is_err() {
            return;
        }
        let _ = reader.get_mut().flush();
    }
}

fn read_chunked(reader: &mut impl BufRead) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).unwrap();
        let n = usize::from_str_radix(size.trim().split(';').next().unwrap(), 16).unwrap();
        let mut chunk = vec![0; n + 2];
        reader.read_exact(&mut chunk).unwrap();
        if n == 0 {
            return body;
        }
        body.extend_from_slice(&chunk[..n]);
    }
}

/// Runs `git http-backend` for one request and turns its CGI answer into an HTTP response.
fn http_backend(
    root: &Path,
    method: &str,
    path: &str,
    query: &str,
    header: &dyn Fn(&str) -> Option<String>,
    user: Option<&str>,
    body: &[u8],
) -> Vec<u8> {
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_LENGTH", body.len().to_string())
        // Pushes are allowed to authenticated users only (http.receivepack).
        .env("REMOTE_USER", user.unwrap_or("token"))
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(t) = header("content-type") {
        cmd.env("CONTENT_TYPE", t);
    }
    if let Some(p) = header("git-protocol") {
        cmd.env("GIT_PROTOCOL", p);
    }
    let mut child = cmd.spawn().expect("git http-backend");
    let mut stdin = child.stdin.take().unwrap();
    let body = body.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let text = out.stdout;
    let split = text
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| text.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let (head, content) = match split {
        Some((i, n)) => (
            String::from_utf8_lossy(&text[..i]).into_owned(),
            &text[i + n..],
        ),
        None => (String::new(), &text[..]),
    };
    let mut status = "200 OK".to_string();
    let mut response = Vec::new();
    let mut fields = String::new();
    for l in head.lines() {
        match l.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
            Some(_) => {
                fields.push_str(l.trim_end());
                fields.push_str("\r\n");
            }
            None => {}
        }
    }
    response.extend_from_slice(format!("HTTP/1.1 {status}\r\n{fields}").as_bytes());
    response.extend_from_slice(format!("Content-Length: {}\r\n\r\n", content.len()).as_bytes());
    response.extend_from_slice(content);
    response
}

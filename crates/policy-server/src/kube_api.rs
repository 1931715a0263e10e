//! A stub Kubernetes API server on loopback, serving Nodes to policy-server's Kubernetes client
//! (kube-rs) over plain HTTP, for the integration tests and `make bench`: what policy-server asks
//! when a policy reads nodes through `kubernetes/list_resources_all` and `kubernetes/get_resource`.
//!
//! - discovery of the core group (`GET /api/v1`, and `/api`, `/apis`, `/version`);
//! - paged LISTs of Nodes as kube-rs' watcher asks them (`limit`, `continue`), each page built from
//!   the nodes serialised once;
//! - a WATCH that stays open (one BOOKMARK event, then nothing) until the client leaves or the
//!   stub stops;
//! - GET of one Node by name, `404` with Kubernetes' `Status` for an unknown one;
//! - `403` for every node request while told to [`KubeApi::refuse`], in the API server's words;
//! - counters of what it was asked ([`Counts`]), so tests can tell a list from a read by name.
//!
//! One thread per connection, HTTP/1.1 with keep-alive: enough for one policy-server. Dropping
//! the stub stops it and every connection, so a failing test leaves nothing running.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

/// The service account policy-server runs as in a Kubewarden install, named by the `403`.
const SERVICE_ACCOUNT: &str = "system:serviceaccount:kubewarden:policy-server";
/// The resourceVersion of every list; watches start from it.
const RESOURCE_VERSION: &str = "4242";
/// How often idle connections look at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// What the stub was asked, by kind of request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// `GET /api/v1` and the other discovery paths.
    pub discovery: u64,
    /// LISTs of Nodes: first pages only, one per listing.
    pub lists: u64,
    /// Every page of every LIST (the first ones included).
    pub pages: u64,
    pub watches: u64,
    /// GETs of one Node by name (found or not).
    pub gets: u64,
    /// Node requests answered `403`.
    pub refused: u64,
    /// Anything else (answered `404`).
    pub other: u64,
}

#[derive(Default)]
struct Counters {
    discovery: AtomicU64,
    lists: AtomicU64,
    pages: AtomicU64,
    watches: AtomicU64,
    gets: AtomicU64,
    refused: AtomicU64,
    other: AtomicU64,
}

/// Each node's name and JSON text.
type Served = Vec<(String, Vec<u8>)>;

struct State {
    nodes: Mutex<Arc<Served>>,
    refuse: AtomicBool,
    stop: AtomicBool,
    counters: Counters,
    /// The open connections, shut down on stop.
    connections: Mutex<Vec<TcpStream>>,
}

/// A running stub; stops when dropped.
pub struct KubeApi {
    port: u16,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

impl KubeApi {
    /// Serves `nodes` (Node objects, as `kubectl get nodes -o json` prints its items) on a free
    /// loopback port.
    pub fn start(nodes: &[Value]) -> Result<KubeApi> {
        let listener =
            TcpListener::bind("127.0.0.1:0").context("cannot listen on a loopback port")?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(State {
            nodes: Mutex::new(Arc::new(serialised(nodes)?)),
            refuse: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            counters: Counters::default(),
            connections: Mutex::new(Vec::new()),
        });
        let shared = Arc::clone(&state);
        let acceptor = std::thread::Builder::new()
            .name("kube-api-stub".to_owned())
            .spawn(move || accept(&listener, &shared))
            .context("cannot start the stub's thread")?;
        Ok(KubeApi {
            port,
            state,
            acceptor: Some(acceptor),
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Serves these nodes from now on (watches already open see no event).
    pub fn set_nodes(&self, nodes: &[Value]) -> Result<()> {
        *lock(&self.state.nodes) = Arc::new(serialised(nodes)?);
        Ok(())
    }

    /// While `refuse` holds, every node request gets `403 Forbidden`, as without RBAC on nodes.
    pub fn refuse(&self, refuse: bool) {
        self.state.refuse.store(refuse, Ordering::SeqCst);
    }

    pub fn counts(&self) -> Counts {
        let c = &self.state.counters;
        let get = |counter: &AtomicU64| counter.load(Ordering::SeqCst);
        Counts {
            discovery: get(&c.discovery),
            lists: get(&c.lists),
            pages: get(&c.pages),
            watches: get(&c.watches),
            gets: get(&c.gets),
            refused: get(&c.refused),
            other: get(&c.other),
        }
    }

    /// Writes a kubeconfig whose current context is this stub (plain HTTP, a token nobody
    /// checks), for policy-server's `KUBECONFIG`.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<()> {
        let config = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "stub", "cluster": {"server": self.url()}}],
            "users": [{"name": "stub", "user": {"token": "stub"}}],
            "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "stub"}}],
            "current-context": "stub",
        });
        std::fs::write(path, serde_yaml::to_string(&config)?)
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wakes the acceptor, which then sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for connection in lock(&self.state.connections).drain(..) {
            let _ = connection.shutdown(Shutdown::Both);
        }
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn serialised(nodes: &[Value]) -> Result<Served> {
    nodes
        .iter()
        .map(|node| {
            let name = node["metadata"]["name"]
                .as_str()
                .context("a node without metadata.name")?
                .to_owned();
            Ok((name, serde_json::to_vec(node)?))
        })
        .collect()
}

fn accept(listener: &TcpListener, state: &Arc<State>) {
    let mut workers = Vec::new();
    for stream in listener.incoming() {
        if state.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        if let Ok(copy) = stream.try_clone() {
            lock(&state.connections).push(copy);
        }
        let state = Arc::clone(state);
        workers.push(std::thread::spawn(move || {
            let _ = serve(stream, &state);
        }));
    }
    for worker in workers {
        let _ = worker.join();
    }
}

/// One connection: requests one after the other until the client closes it or the stub stops.
fn serve(stream: TcpStream, state: &State) -> std::io::Result<()> {
    stream.set_read_timeout(Some(POLL))?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let Some(target) = read_request(&mut reader, state)? else {
            return Ok(());
        };
        match answer(&target, state) {
            Answer::Json(status, body) => respond(&mut writer, status, &body)?,
            Answer::Watch => return watch(&mut writer, &mut reader, state),
        }
    }
}

/// Reads one request's head (and skips its body): the request target of a GET, or `None` when
/// the connection ends first. Other methods get `405` and are read past.
fn read_request(
    reader: &mut BufReader<TcpStream>,
    state: &State,
) -> std::io::Result<Option<String>> {
    loop {
        let mut line = String::new();
        let mut content_length = 0usize;
        let mut head = Vec::new();
        loop {
            // A timeout keeps what was read of the line: the next call appends the rest.
            match reader.read_line(&mut line) {
                Ok(0) => return Ok(None),
                Ok(_) if !line.ends_with('\n') => continue,
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {
                    if state.stop.load(Ordering::SeqCst) {
                        return Ok(None);
                    }
                    continue;
                }
                Err(e) => return Err(e),
            }
            let complete = std::mem::take(&mut line);
            let trimmed = complete.trim_end();
            if trimmed.is_empty() {
                if head.is_empty() {
                    continue;
                }
                break;
            }
            if let Some((name, value)) = trimmed.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse().unwrap_or(0);
            }
            head.push(trimmed.to_owned());
        }
        if content_length > 0 {
            std::io::copy(
                &mut reader.by_ref().take(content_length as u64),
                &mut std::io::sink(),
            )?;
        }
        let mut words = head[0].split_whitespace();
        match (words.next(), words.next()) {
            (Some("GET"), Some(target)) => return Ok(Some(target.to_owned())),
            _ => {
                let mut writer = reader.get_ref().try_clone()?;
                respond(
                    &mut writer,
                    405,
                    &status(405, "MethodNotAllowed", "the stub answers GET only"),
                )?;
            }
        }
    }
}

fn is_timeout(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

enum Answer {
    Json(u16, Vec<u8>),
    Watch,
}

/// Kubernetes' `Status` object for an error.
fn status(code: u16, reason: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }))
    .unwrap_or_default()
}

fn answer(target: &str, state: &State) -> Answer {
    let counters = &state.counters;
    let count = |counter: &AtomicU64| counter.fetch_add(1, Ordering::SeqCst);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let parameter = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    };
    let ok = |value: Value| Answer::Json(200, serde_json::to_vec(&value).unwrap_or_default());
    match path {
        "/version" => {
            count(&counters.discovery);
            ok(
                json!({"major": "1", "minor": "33", "gitVersion": "v1.33.5", "platform": "linux/amd64"}),
            )
        }
        "/api" => {
            count(&counters.discovery);
            ok(json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}))
        }
        "/apis" => {
            count(&counters.discovery);
            ok(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []}))
        }
        "/api/v1" => {
            count(&counters.discovery);
            ok(json!({
                "kind": "APIResourceList",
                "groupVersion": "v1",
                "resources": [{
                    "name": "nodes", "singularName": "node", "namespaced": false, "kind": "Node",
                    "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                    "shortNames": ["no"]
                }]
            }))
        }
        "/api/v1/nodes" | "/api/v1/nodes/" if state.refuse.load(Ordering::SeqCst) => {
            count(&counters.refused);
            let verb = if parameter("watch") == Some("true") {
                "watch"
            } else {
                "list"
            };
            forbidden(&format!(
                "cannot {verb} resource \"nodes\" in API group \"\" at the cluster scope"
            ))
        }
        "/api/v1/nodes" | "/api/v1/nodes/" if parameter("watch") == Some("true") => {
            count(&counters.watches);
            Answer::Watch
        }
        "/api/v1/nodes" | "/api/v1/nodes/" => {
            let offset: usize = parameter("continue")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            if offset == 0 {
                count(&counters.lists);
            }
            count(&counters.pages);
            let limit: usize = parameter("limit")
                .and_then(|l| l.parse().ok())
                .filter(|&l| l > 0)
                .unwrap_or(usize::MAX);
            Answer::Json(200, page(&lock(&state.nodes), offset, limit))
        }
        _ => match path.strip_prefix("/api/v1/nodes/") {
            Some(name) if !name.is_empty() && !name.contains('/') => {
                if state.refuse.load(Ordering::SeqCst) {
                    count(&counters.refused);
                    return forbidden(
                        "cannot get resource \"nodes\" in API group \"\" at the cluster scope",
                    );
                }
                count(&counters.gets);
                let nodes = Arc::clone(&lock(&state.nodes));
                match nodes.iter().find(|(n, _)| n == name) {
                    Some((_, node)) => Answer::Json(200, node.clone()),
                    None => Answer::Json(
                        404,
                        status(404, "NotFound", &format!("nodes \"{name}\" not found")),
                    ),
                }
            }
            _ => {
                count(&counters.other);
                Answer::Json(
                    404,
                    status(
                        404,
                        "NotFound",
                        "the server could not find the requested resource",
                    ),
                )
            }
        },
    }
}

fn forbidden(what: &str) -> Answer {
    let message = format!("nodes is forbidden: User \"{SERVICE_ACCOUNT}\" {what}");
    Answer::Json(403, status(403, "Forbidden", &message))
}

/// A NodeList page: `limit` nodes from `offset`, with a `continue` token when more remain.
fn page(nodes: &[(String, Vec<u8>)], offset: usize, limit: usize) -> Vec<u8> {
    let end = offset.saturating_add(limit).min(nodes.len());
    let items = nodes.get(offset..end).unwrap_or_default();
    let mut metadata = json!({"resourceVersion": RESOURCE_VERSION});
    if end < nodes.len() {
        metadata["continue"] = json!(end.to_string());
        metadata["remainingItemCount"] = json!(nodes.len() - end);
    }
    let mut body =
        format!(r#"{{"kind":"NodeList","apiVersion":"v1","metadata":{metadata},"items":["#)
            .into_bytes();
    body.reserve(items.iter().map(|(_, node)| node.len() + 1).sum());
    for (i, (_, node)) in items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(node);
    }
    body.extend_from_slice(b"]}");
    body
}

fn respond(writer: &mut TcpStream, status: u16, body: &[u8]) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    // One write: headers and body in separate segments would meet the client's delayed ACK.
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    writer.write_all(&response)?;
    writer.flush()
}

/// A watch: the headers and one BOOKMARK event at the lists' resourceVersion, then the stream
/// stays open with nothing to say until the client leaves or the stub stops.
fn watch(
    writer: &mut TcpStream,
    reader: &mut BufReader<TcpStream>,
    state: &State,
) -> std::io::Result<()> {
    let event = format!(
        "{}\n",
        json!({"type": "BOOKMARK", "object": {"kind": "Node", "apiVersion": "v1", "metadata": {"resourceVersion": RESOURCE_VERSION}}})
    );
    write!(
        writer,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{event}\r\n",
        event.len()
    )?;
    writer.flush()?;
    let mut scratch = [0u8; 512];
    while !state.stop.load(Ordering::SeqCst) {
        match reader.read(&mut scratch) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    // The end of the stream: the client's watcher starts another one, as after a timeout.
    writer.write_all(b"0\r\n\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(api: &KubeApi, target: &str) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent.get(&format!("{}{target}", api.url())).call().unwrap();
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&body).unwrap())
    }

    fn nodes(count: usize) -> Vec<Value> {
        (0..count)
            .map(|i| json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": format!("n{i}")}}))
            .collect()
    }

    fn names(list: &Value) -> Vec<&str> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["metadata"]["name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn pages_as_the_watcher_asks_them() {
        let api = KubeApi::start(&nodes(5)).unwrap();
        let (status, first) = get(&api, "/api/v1/nodes?&limit=2");
        assert_eq!(status, 200);
        assert_eq!(names(&first), ["n0", "n1"]);
        assert_eq!(first["metadata"]["continue"], "2");
        assert_eq!(first["metadata"]["remainingItemCount"], 3);
        let (_, last) = get(&api, "/api/v1/nodes?&limit=2&continue=4");
        assert_eq!(names(&last), ["n4"]);
        assert_eq!(
            last["metadata"],
            json!({"resourceVersion": RESOURCE_VERSION})
        );
        let (_, whole) = get(&api, "/api/v1/nodes");
        assert_eq!(names(&whole).len(), 5);
        assert_eq!(
            api.counts(),
            Counts {
                lists: 2,
                pages: 3,
                ..Counts::default()
            }
        );
    }

    #[test]
    fn one_node_by_name_or_not_found() {
        let api = KubeApi::start(&nodes(3)).unwrap();
        assert_eq!(get(&api, "/api/v1/nodes/n2").1["metadata"]["name"], "n2");
        let (status, missing) = get(&api, "/api/v1/nodes/zz");
        assert_eq!(status, 404);
        assert_eq!(missing["reason"], "NotFound");
        assert_eq!(missing["message"], "nodes \"zz\" not found");
        assert_eq!(get(&api, "/api/v1").1["resources"][0]["kind"], "Node");
        assert_eq!(get(&api, "/api/v1/pods").0, 404);
        let counts = api.counts();
        assert_eq!(
            (counts.gets, counts.discovery, counts.other, counts.lists),
            (2, 1, 1, 0)
        );
    }

    #[test]
    fn refusals_are_the_api_servers() {
        let api = KubeApi::start(&nodes(1)).unwrap();
        api.refuse(true);
        let (status, refused) = get(&api, "/api/v1/nodes?limit=500");
        assert_eq!(status, 403);
        assert_eq!(
            refused["message"],
            "nodes is forbidden: User \"system:serviceaccount:kubewarden:policy-server\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
        );
        assert_eq!(get(&api, "/api/v1/nodes/n0").0, 403);
        api.refuse(false);
        assert_eq!(get(&api, "/api/v1/nodes/n0").0, 200);
        assert_eq!(api.counts().refused, 2);
    }

    #[test]
    fn a_watch_stays_open_until_the_stub_stops() {
        let api = KubeApi::start(&nodes(1)).unwrap();
        let mut stream = TcpStream::connect(("127.0.0.1", api.port)).unwrap();
        write!(
            stream,
            "GET /api/v1/nodes?watch=true&resourceVersion=4242 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while !line.contains("BOOKMARK") {
            line.clear();
            assert_ne!(reader.read_line(&mut line).unwrap(), 0, "the stream ended");
        }
        assert_eq!(api.counts().watches, 1);
        // Nothing more until the stub stops, which ends the stream.
        drop(api);
        let mut rest = String::new();
        let _ = reader.read_to_string(&mut rest);
        assert!(!rest.contains("BOOKMARK"), "{rest}");
    }

    #[test]
    fn kubeconfig_names_the_stub() {
        let api = KubeApi::start(&[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        api.write_kubeconfig(&path).unwrap();
        let config: Value = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(config["clusters"][0]["cluster"]["server"], api.url());
        assert_eq!(config["current-context"], "stub");
    }
}

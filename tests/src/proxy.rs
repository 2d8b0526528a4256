//! A TCP forwarder on 127.0.0.1 with a switch, to cut a dependency off
//! without stopping it (moto keeps its state in memory: killing it would
//! lose the queues and tables). Down: the listening socket is closed, so new
//! connections are refused, and every connection in flight is closed. Up: it
//! listens again on the same port and forwards to the upstream. Armed with
//! `cut_on(pattern)`, it goes down by itself on the first request whose
//! bytes contain the pattern, before forwarding it: an outage at one exact
//! request (e.g. the read of one item), with no race against the test.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct TcpProxy {
    /// Where clients connect (fixed for the proxy's life).
    pub addr: SocketAddr,
    pub upstream: SocketAddr,
    switch: Arc<watch::Sender<bool>>,
    accepted: Arc<AtomicUsize>,
    trigger: Trigger,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl TcpProxy {
    /// Forward a free 127.0.0.1 port to `upstream`; starts forwarding.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (switch, state) = watch::channel(true);
        let switch = Arc::new(switch);
        let accepted = Arc::new(AtomicUsize::new(0));
        let trigger = Trigger {
            pattern: Arc::new(Mutex::new(None)),
            switch: switch.clone(),
        };
        let task = tokio::spawn(run(
            listener,
            addr,
            upstream,
            state,
            accepted.clone(),
            trigger.clone(),
        ));
        Ok(Self {
            addr,
            upstream,
            switch,
            accepted,
            trigger,
            task: Mutex::new(Some(task)),
        })
    }

    /// `http://127.0.0.1:<port>`: the endpoint to give SDK clients.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Refuse new connections and close the open ones (an outage).
    pub fn cut(&self) {
        self.switch.send_replace(false);
    }

    /// Forward again (the dependency is back); disarms `cut_on`.
    pub fn restore(&self) {
        self.trigger.disarm();
        self.switch.send_replace(true);
    }

    /// Go down on the first request whose bytes contain `pattern` (that
    /// request is not forwarded), and stay down until `restore`.
    pub fn cut_on(&self, pattern: &[u8]) {
        if let Ok(mut p) = self.trigger.pattern.lock() {
            *p = Some(pattern.to_vec());
        }
    }

    pub fn is_up(&self) -> bool {
        *self.switch.borrow()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        let _ = self.switch.send(false);
        if let Some(task) = self.task.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
    }
}

/// The armed pattern of `cut_on`, and the switch it turns off.
#[derive(Clone)]
struct Trigger {
    pattern: Arc<Mutex<Option<Vec<u8>>>>,
    switch: Arc<watch::Sender<bool>>,
}

impl Trigger {
    fn disarm(&self) {
        if let Ok(mut p) = self.pattern.lock() {
            *p = None;
        }
    }

    /// Whether `bytes` (what the client sent so far on this connection, its
    /// tail) trips the trigger: then the proxy is down.
    fn trips(&self, bytes: &[u8]) -> bool {
        let Ok(mut armed) = self.pattern.lock() else {
            return false;
        };
        let hit = armed
            .as_deref()
            .is_some_and(|p| !p.is_empty() && bytes.windows(p.len()).any(|w| w == p));
        if hit {
            *armed = None;
            self.switch.send_replace(false);
        }
        hit
    }
}

async fn run(
    first: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut state: watch::Receiver<bool>,
    accepted: Arc<AtomicUsize>,
    trigger: Trigger,
) {
    let mut listener = Some(first);
    loop {
        if !*state.borrow_and_update() {
            // Down: no listener at all (connect() is refused).
            listener = None;
            if state.changed().await.is_err() {
                return;
            }
            continue;
        }
        let current = match listener.take() {
            Some(l) => l,
            None => match TcpListener::bind(addr).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, %addr, "proxy: rebind failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        loop {
            tokio::select! {
                a = current.accept() => {
                    let Ok((client, _)) = a else { continue };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(forward(client, upstream, state.clone(), trigger.clone()));
                }
                changed = state.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if !*state.borrow() {
                        break;
                    }
                }
            }
        }
        drop(current);
    }
}

/// Copy both ways until either side closes or the switch goes down (the
/// client's bytes are checked against the trigger before they are sent on).
async fn forward(
    client: TcpStream,
    upstream: SocketAddr,
    mut state: watch::Receiver<bool>,
    trigger: Trigger,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream_bound = async {
        let mut buf = vec![0u8; 16 * 1024];
        // The last bytes of the previous read, so a pattern split across two
        // reads still trips the trigger.
        let mut tail: Vec<u8> = Vec::new();
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            tail.extend_from_slice(&buf[..n]);
            if trigger.trips(&tail) {
                return;
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
            let keep = tail.len().min(256);
            tail.drain(..tail.len() - keep);
        }
    };
    let client_bound = tokio::io::copy(&mut server_read, &mut client_write);
    tokio::select! {
        _ = upstream_bound => {}
        _ = client_bound => {}
        // Both sockets are closed when dropped: the peer sees the outage at once.
        _ = state.wait_for(|up| !*up) => {}
    }
}

//! A TCP forwarder on 127.0.0.1 with a switch, to cut a dependency off
//! without stopping it (moto keeps its state in memory: killing it would
//! lose the queues and tables). Down: the listening socket is closed, so new
//! connections are refused, and every connection in flight is closed. Up: it
//! listens again on the same port and forwards to the upstream.
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
    switch: watch::Sender<bool>,
    accepted: Arc<AtomicUsize>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl TcpProxy {
    /// Forward a free 127.0.0.1 port to `upstream`; starts forwarding.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (switch, state) = watch::channel(true);
        let accepted = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(run(listener, addr, upstream, state, accepted.clone()));
        Ok(Self {
            addr,
            upstream,
            switch,
            accepted,
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

    /// Forward again (the dependency is back).
    pub fn restore(&self) {
        self.switch.send_replace(true);
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

async fn run(
    first: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut state: watch::Receiver<bool>,
    accepted: Arc<AtomicUsize>,
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
                    tokio::spawn(forward(client, upstream, state.clone()));
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

/// Copy both ways until either side closes or the switch goes down.
async fn forward(mut client: TcpStream, upstream: SocketAddr, mut state: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        // Both sockets are closed when dropped: the peer sees the outage at once.
        _ = state.wait_for(|up| !*up) => {}
    }
}

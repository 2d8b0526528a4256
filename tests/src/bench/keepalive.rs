//! A keep-alive HTTP front for moto. moto's server (werkzeug) answers every
//! request with `Connection: close`, so against it each AWS call opens and
//! closes a TCP connection; AWS's endpoints keep connections open and the
//! SDK reuses them. Benchmarks that read the functions' CPU per call put
//! this in front of each moto server: the functions' clients keep one
//! connection open to it as they would to AWS, and the proxy, on the local
//! harness's runtime (counted as the harness, not as a function), opens
//! moto's connection per request.
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Headers that belong to one connection, not to the request or response.
const HOP_BY_HOP: [&str; 5] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
];

/// Serve on a free 127.0.0.1 port, forwarding every request to `upstream`
/// (`http://127.0.0.1:<port>`); returns the proxy's endpoint and its task.
pub async fn start(upstream: &str) -> std::io::Result<(String, JoinHandle<()>)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr: SocketAddr = listener.local_addr()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .no_proxy()
        .build()
        .map_err(std::io::Error::other)?;
    let upstream = upstream.trim_end_matches('/').to_string();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (client, upstream) = (client.clone(), upstream.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<Incoming>| {
                    let (client, upstream) = (client.clone(), upstream.clone());
                    async move {
                        Ok::<_, std::convert::Infallible>(forward(&client, &upstream, req).await)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((format!("http://{addr}"), task))
}

async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return failure(&e.to_string()),
    };
    let mut out = client.request(parts.method, format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            out = out.header(name, value);
        }
    }
    let answer = match out.body(body).send().await {
        Ok(a) => a,
        Err(e) => return failure(&e.to_string()),
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut response = hyper::Response::new(Full::new(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

fn failure(why: &str) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(why.to_string())));
    *response.status_mut() = hyper::StatusCode::BAD_GATEWAY;
    response
}

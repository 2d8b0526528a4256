//! moto server, the AWS emulator, started on loopback from the project's
//! virtualenv (`make venv` creates it). One process per service: moto's SQS
//! scans whole queues and would slow DynamoDB calls down if they shared it.
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REGION: &str = "us-east-1";

/// The workspace root (the directory holding `template.yaml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Which emulated service a server is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Sqs,
    /// moto behind `scripts/moto-dynamodb.py`, one request at a time: moto
    /// applies an UpdateItem in place while other threads read the item,
    /// and DynamoDB never shows half a write.
    DynamoDb,
}

fn moto_binary() -> PathBuf {
    if let Ok(explicit) = std::env::var("CHATHOOKS_MOTO_SERVER") {
        return PathBuf::from(explicit);
    }
    workspace_root().join(".venv/bin/moto_server")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// One running moto server; killed when dropped.
pub struct MotoServer {
    child: Child,
    pub endpoint: String,
}

impl MotoServer {
    /// Start moto for SQS on a free loopback port and wait until it answers.
    pub fn start() -> std::io::Result<Self> {
        Self::start_for(Service::Sqs)
    }

    /// Start moto for `service` on a free loopback port and wait until it answers.
    pub fn start_for(service: Service) -> std::io::Result<Self> {
        let bin = moto_binary();
        if !bin.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "{} not found: run `make venv` (the test and dev commands do it for you)",
                    bin.display()
                ),
            ));
        }
        let port = free_port();
        let port_arg = port.to_string();
        let mut command = match service {
            Service::Sqs => Command::new(&bin),
            Service::DynamoDb => {
                // The venv's python, beside its moto_server.
                let mut c = Command::new(bin.with_file_name("python"));
                c.arg(workspace_root().join("scripts/moto-dynamodb.py"));
                c
            }
        };
        let child = command
            .args(["-H", "127.0.0.1", "-p", &port_arg])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "moto server did not start within 30 s",
        ))
    }

    pub fn port(&self) -> u16 {
        self.endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stop the server (an emulator outage in tests).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// moto for SQS and moto for DynamoDB, each in its own process.
pub struct Emulator {
    pub sqs: MotoServer,
    pub dynamodb: MotoServer,
}

impl Emulator {
    pub fn start() -> std::io::Result<Self> {
        Ok(Self {
            sqs: MotoServer::start()?,
            dynamodb: MotoServer::start_for(Service::DynamoDb)?,
        })
    }

    /// The environment that points the AWS SDK (and so every function) at this emulator.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL_SQS".into(), self.sqs.endpoint.clone()),
            (
                "AWS_ENDPOINT_URL_DYNAMODB".into(),
                self.dynamodb.endpoint.clone(),
            ),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_REGION".into(), REGION.into()),
        ]
    }

    /// SDK configuration for this emulator's SQS.
    pub async fn sqs_config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.sqs.endpoint).await
    }

    /// SDK configuration for this emulator's DynamoDB.
    pub async fn dynamodb_config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.dynamodb.endpoint).await
    }
}

/// SDK configuration with dummy credentials pointed at one endpoint.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

//! CPU time by thread, for benchmarks that run the functions' handlers on
//! threads of their own: each function on a dedicated single-threaded tokio
//! runtime (as Lambda gives each invocation a process of its own), the load
//! generator and receiver on another runtime, so one process's CPU can be
//! split into the functions', the local harness's and the load's.
//!
//! A thread's CPU time is `/proc/thread-self/schedstat`'s first field
//! (nanoseconds on a CPU, user and system), read on the thread itself or
//! through `/proc/self/task/<tid>/schedstat`.
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// CPU nanoseconds of the calling thread (0 off Linux).
pub fn thread_cpu_ns() -> u64 {
    read_schedstat("/proc/thread-self/schedstat").unwrap_or(0)
}

/// CPU nanoseconds of this process's thread `tid`, `None` once it is gone.
pub fn task_cpu_ns(tid: u32) -> Option<u64> {
    read_schedstat(&format!("/proc/self/task/{tid}/schedstat"))
}

/// CPU nanoseconds of the whole process (every thread, live or exited).
pub fn process_cpu_ns() -> u64 {
    // /proc/self/schedstat is the main thread's; the process's total is in
    // /proc/self/stat at clock-tick resolution, so sum the live threads and
    // add the exited ones' ticks.
    crate::bench::procstat::cpu_seconds(std::process::id())
        .map(|s| (s * 1e9) as u64)
        .unwrap_or(0)
}

fn read_schedstat(path: &str) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The calling thread's id (Linux), 0 if unknown.
pub fn current_tid() -> u32 {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse().ok())
        .unwrap_or(0)
}

/// A set of threads whose CPU time is summed: live ones read from /proc,
/// exited ones added as they stop.
/// Its allocations are counted together too (`bench::alloc`, when the
/// counting allocator is installed).
#[derive(Clone)]
pub struct ThreadGroup {
    live: Arc<Mutex<Vec<u32>>>,
    exited_ns: Arc<AtomicU64>,
    alloc_group: usize,
}

impl Default for ThreadGroup {
    fn default() -> Self {
        Self {
            live: Arc::default(),
            exited_ns: Arc::default(),
            alloc_group: crate::bench::alloc::new_group(),
        }
    }
}

impl ThreadGroup {
    /// Allocations and bytes of the group's threads so far.
    pub fn allocations(&self) -> (u64, u64) {
        crate::bench::alloc::group(self.alloc_group)
    }

    /// Count the calling thread in the group until `leave` (call it on the thread).
    pub fn join(&self) {
        crate::bench::alloc::tag_thread(self.alloc_group);
        let tid = current_tid();
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tid);
    }

    /// The calling thread stops: keep its CPU time.
    pub fn leave(&self) {
        crate::bench::alloc::fold();
        let (tid, ns) = (current_tid(), thread_cpu_ns());
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|t| *t != tid);
        self.exited_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// CPU nanoseconds of every thread of the group so far.
    pub fn cpu_ns(&self) -> u64 {
        let live: u64 = self
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|t| task_cpu_ns(*t))
            .sum();
        live + self.exited_ns.load(Ordering::Relaxed)
    }

    /// A multi-threaded tokio runtime whose threads (workers and blocking
    /// pool) all belong to this group.
    pub fn runtime(&self, name: &str, workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
        let (start, stop) = (self.clone(), self.clone());
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name(name)
            .enable_all()
            .on_thread_start(move || start.join())
            .on_thread_stop(move || stop.leave())
            .build()
    }
}

type Job = Box<dyn FnOnce() -> futures::future::BoxFuture<'static, ()> + Send>;

/// A function's own thread: a single-threaded tokio runtime (and its
/// blocking pool, in the same `ThreadGroup`) running every invocation sent
/// to it, concurrently. SDK and HTTP connections the function opens are
/// driven there too, so the group's CPU time is what the function would be
/// billed for, apart from whatever calls it.
pub struct FunctionThread {
    name: String,
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    pub group: ThreadGroup,
}

impl FunctionThread {
    pub fn spawn(name: &str) -> std::io::Result<Self> {
        Self::spawn_with(name, 0)
    }

    /// With `workers` 0, a single-threaded runtime; otherwise a
    /// multi-threaded one with that many workers (what `#[tokio::main]`
    /// builds: one per CPU), every thread of it in the group.
    pub fn spawn_with(name: &str, workers: usize) -> std::io::Result<Self> {
        let group = ThreadGroup::default();
        let (jobs, mut rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let (start, stop, main) = (group.clone(), group.clone(), group.clone());
        let mut builder = if workers == 0 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(workers);
            b
        };
        let runtime = builder
            .enable_all()
            .thread_name(format!("{name}-worker"))
            .on_thread_start(move || start.join())
            .on_thread_stop(move || stop.leave())
            .build()?;
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                main.join();
                runtime.block_on(async move {
                    while let Some(job) = rx.recv().await {
                        tokio::spawn(job());
                    }
                });
                main.leave();
            })?;
        Ok(Self {
            name: name.to_string(),
            jobs,
            group,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Run `make()`'s future on the function's thread and wait for its output.
    pub async fn run<F, Fut, T>(&self, make: F) -> T
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            Box::pin(async move {
                let _ = tx.send(make().await);
            })
        });
        if self.jobs.send(job).is_err() {
            panic!("function thread {} is gone", self.name);
        }
        match rx.await {
            Ok(out) => out,
            Err(_) => panic!("function thread {} dropped an invocation", self.name),
        }
    }

    /// The thread's allocations and bytes so far (zero without the
    /// counting allocator), exact: read on the thread (on a single-threaded
    /// runtime, the function's only thread).
    pub async fn allocations(&self) -> (u64, u64) {
        self.run(|| async { crate::bench::alloc::this_thread() })
            .await
    }
}

//! The shared limiter's per-request overhead: one admission plus one answer, unpaced (no
//! `429` seen) and paced (after a `429`), on the pure state machine and through the async
//! gate the harvest uses.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use simsid::harvest::gate::Gate;
use simsid::harvest::limiter::{Decision, Limiter, LimiterConfig};

fn per_request(c: &mut Criterion) {
    let mut group = c.benchmark_group("limiter");
    group.bench_function("admit_and_answer_unpaced", |b| {
        let t0 = Instant::now();
        let mut l = Limiter::new(LimiterConfig::new(64));
        let mut now = t0;
        b.iter(|| {
            now += Duration::from_micros(10);
            if let Decision::Go(t) = l.try_acquire(now) {
                l.answered(t, now);
            }
        });
    });
    group.bench_function("admit_and_answer_paced", |b| {
        let t0 = Instant::now();
        let mut l = Limiter::new(LimiterConfig::new(64));
        if let Decision::Go(t) = l.try_acquire(t0) {
            l.rate_limited(t, t0, Some(Duration::ZERO));
        }
        let mut now = t0;
        b.iter(|| {
            // 1 ms apart: every request finds its paced slot open.
            now += Duration::from_millis(1);
            if let Decision::Go(t) = l.try_acquire(now) {
                l.answered(t, now);
            }
        });
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    group.bench_function("gate_admit_and_answer", |b| {
        let gate = Gate::new(LimiterConfig::new(64));
        b.to_async(&runtime).iter(|| async {
            gate.admit().await.answered();
        });
    });
    group.finish();
}

criterion_group!(benches, per_request);
criterion_main!(benches);

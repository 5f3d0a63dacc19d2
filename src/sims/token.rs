//! The integrator's access token, cached once for every concurrent caller.
//!
//! The cache is a tokio mutex held across the token request: callers arriving while a token
//! is being fetched wait for that one request instead of sending their own (single flight).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use std::time::Instant;
use tokio::sync::Mutex;

use super::error::SimsError;
use crate::sims::wire::TokenAnswer;

/// How long before the STS's `expires_in` runs out a token is renewed.
pub const RENEW_MARGIN: Duration = Duration::from_secs(60);

/// How long a token is used when the STS did not say how long it lives.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// How long a token with this `expires_in` is used before it is renewed: the lifetime less
/// [`RENEW_MARGIN`], or half the lifetime when that is shorter than twice the margin.
pub fn use_for(expires_in: Option<u64>) -> Duration {
    let lifetime = expires_in.map_or(DEFAULT_LIFETIME, Duration::from_secs);
    if lifetime > RENEW_MARGIN * 2 {
        lifetime - RENEW_MARGIN
    } else {
        lifetime / 2
    }
}

/// A token request: what the cache calls when it has no token to give.
pub trait Fetch: FnOnce() -> Self::Answer {
    /// The request's future.
    type Answer: Future<Output = Result<TokenAnswer, SimsError>>;
}

impl<F, Fut> Fetch for F
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<TokenAnswer, SimsError>>,
{
    type Answer = Fut;
}

struct Cached {
    token: Arc<SecretString>,
    renew_at: Instant,
}

/// One cached token shared by every clone of the client.
#[derive(Default)]
pub struct TokenCache {
    slot: Mutex<Slot>,
    /// Token fetches finished so far (success or failure).
    finished: AtomicU64,
}

#[derive(Default)]
struct Slot {
    cached: Option<Cached>,
    /// The last fetch's failure and its number in `finished`: callers that were waiting
    /// while that fetch ran share its error instead of each sending a request of their own.
    failure: Option<(u64, SimsError)>,
}

impl TokenCache {
    /// The cached token, or a new one from `fetch` when there is none or it is due for
    /// renewal. Concurrent callers share a single `fetch` and its outcome.
    pub async fn get(&self, fetch: impl Fetch) -> Result<Arc<SecretString>, SimsError> {
        self.get_at(Instant::now, fetch).await
    }

    /// [`TokenCache::get`] with the clock given (tests).
    async fn get_at(
        &self,
        now: impl Fn() -> Instant,
        fetch: impl Fetch,
    ) -> Result<Arc<SecretString>, SimsError> {
        self.obtain(now, None, fetch).await
    }

    /// Replaces `stale` (a token the API refused) with a new one from `fetch`, unless
    /// another caller already replaced it: then that newer token is returned.
    pub async fn renew(
        &self,
        stale: &Arc<SecretString>,
        fetch: impl Fetch,
    ) -> Result<Arc<SecretString>, SimsError> {
        self.obtain(Instant::now, Some(stale), fetch).await
    }

    /// The cached token while it is fresh and not `refused`, else a new one from `fetch`.
    async fn obtain(
        &self,
        now: impl Fn() -> Instant,
        refused: Option<&Arc<SecretString>>,
        fetch: impl Fetch,
    ) -> Result<Arc<SecretString>, SimsError> {
        let arrived = self.finished.load(Ordering::Acquire);
        let mut slot = self.slot.lock().await;
        if let Some(cached) = &slot.cached {
            let is_refused = refused.is_some_and(|r| Arc::ptr_eq(&cached.token, r));
            if !is_refused && now() < cached.renew_at {
                return Ok(Arc::clone(&cached.token));
            }
        }
        self.refill(&mut slot, arrived, now, fetch).await
    }

    /// Fetches a token into `slot`, unless a fetch that finished after this caller
    /// `arrived` failed: then that failure is the answer.
    async fn refill(
        &self,
        slot: &mut Slot,
        arrived: u64,
        now: impl Fn() -> Instant,
        fetch: impl Fetch,
    ) -> Result<Arc<SecretString>, SimsError> {
        if let Some((number, error)) = &slot.failure {
            if *number > arrived {
                return Err(error.clone());
            }
        }
        // Forget the old token first: if the fetch fails, nothing stale stays cached.
        slot.cached = None;
        slot.failure = None;
        let result = fetch().await;
        let number = self.finished.fetch_add(1, Ordering::AcqRel) + 1;
        match result {
            Ok(answer) => {
                let token = Arc::new(answer.access_token);
                slot.cached = Some(Cached {
                    token: Arc::clone(&token),
                    renew_at: now() + use_for(answer.expires_in),
                });
                Ok(token)
            }
            Err(error) => {
                slot.failure = Some((number, error.clone()));
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn answer(n: u64, expires_in: Option<u64>) -> TokenAnswer {
        TokenAnswer {
            access_token: SecretString::from(format!("token-{n}")),
            expires_in,
            scope: None,
        }
    }

    async fn fetch(count: &AtomicU64, expires_in: Option<u64>) -> Result<TokenAnswer, SimsError> {
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(answer(n, expires_in))
    }

    /// 16 callers at once, each running `call` with the shared cache and fetch count.
    fn sixteen_callers<T, Fut>(
        cache: &Arc<TokenCache>,
        count: &Arc<AtomicU64>,
        call: impl Fn(Arc<TokenCache>, Arc<AtomicU64>) -> Fut,
    ) -> Vec<tokio::task::JoinHandle<T>>
    where
        Fut: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        (0..16)
            .map(|_| tokio::spawn(call(Arc::clone(cache), Arc::clone(count))))
            .collect()
    }

    #[test]
    fn tokens_are_renewed_a_minute_early() {
        assert_eq!(use_for(Some(3600)), Duration::from_secs(3540));
        assert_eq!(use_for(Some(100)), Duration::from_secs(50));
        assert_eq!(use_for(Some(0)), Duration::ZERO);
        assert_eq!(use_for(None), DEFAULT_LIFETIME - RENEW_MARGIN);
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let cache = Arc::new(TokenCache::default());
        let count = Arc::new(AtomicU64::new(0));
        let tasks = sixteen_callers(&cache, &count, |cache, count| async move {
            let token = cache.get(|| fetch(&count, Some(3600))).await.unwrap();
            token.expose_secret().to_owned()
        });
        for task in tasks {
            assert_eq!(task.await.unwrap(), "token-1");
        }
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn token_is_renewed_sixty_seconds_before_expiry() {
        let cache = TokenCache::default();
        let count = AtomicU64::new(0);
        let start = Instant::now();
        let at = |secs: u64| move || start + Duration::from_secs(secs);
        let first = cache
            .get_at(at(0), || fetch(&count, Some(3600)))
            .await
            .unwrap();
        let same = cache
            .get_at(at(3530), || fetch(&count, Some(3600)))
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&first, &same));
        let renewed = cache
            .get_at(at(3550), || fetch(&count, Some(3600)))
            .await
            .unwrap();
        assert_eq!(renewed.expose_secret(), "token-2");
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    /// A cache holding its first token (`token-1`, an hour to live), and the fetch count.
    async fn holding_a_token() -> (TokenCache, AtomicU64, Arc<SecretString>) {
        let cache = TokenCache::default();
        let count = AtomicU64::new(0);
        let token = cache.get(|| fetch(&count, Some(3600))).await.unwrap();
        (cache, count, token)
    }

    #[tokio::test]
    async fn a_refused_token_is_renewed_once_for_all_callers() {
        let (cache, count, stale) = holding_a_token().await;
        let fresh = cache
            .renew(&stale, || fetch(&count, Some(3600)))
            .await
            .unwrap();
        assert_eq!(fresh.expose_secret(), "token-2");
        // A second caller that saw the same stale token gets the fresh one, no new fetch.
        let again = cache
            .renew(&stale, || fetch(&count, Some(3600)))
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&fresh, &again));
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_fetch_caches_nothing() {
        let (cache, count, stale) = holding_a_token().await;
        let failed = cache
            .renew(&stale, || async { Err(SimsError::Timeout) })
            .await;
        assert_eq!(failed.unwrap_err(), SimsError::Timeout);
        let next = cache.get(|| fetch(&count, Some(3600))).await.unwrap();
        assert_eq!(next.expose_secret(), "token-2");
    }

    #[tokio::test]
    async fn callers_waiting_on_a_failed_fetch_share_its_error() {
        let cache = Arc::new(TokenCache::default());
        let count = Arc::new(AtomicU64::new(0));
        let tasks = sixteen_callers(&cache, &count, |cache, count| async move {
            cache
                .get(|| async {
                    count.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Err(SimsError::Server { status: 503 })
                })
                .await
        });
        // Let every task queue on the lock while the first fetch is in flight.
        for task in tasks {
            assert_eq!(
                task.await.unwrap().unwrap_err(),
                SimsError::Server { status: 503 }
            );
        }
        assert_eq!(count.load(Ordering::SeqCst), 1);
        // A caller arriving after the failure tries again.
        let token = cache.get(|| fetch(&count, Some(3600))).await.unwrap();
        assert_eq!(token.expose_secret(), "token-2");
    }
}

//! The SIMS ID client as the harvest's [`Source`].

use crate::domain::{Credential, OrgId, Site};
use crate::harvest::{FetchError, Source};
use crate::sims::{SimsClient, SimsError};

fn classify(e: SimsError) -> FetchError {
    if let SimsError::RateLimited { retry_after } = e {
        return FetchError::RateLimited {
            retry_after,
            message: e.to_string(),
        };
    }
    if matches!(
        e,
        SimsError::ScopeNarrowed { .. } | SimsError::TokenForbidden { .. }
    ) {
        FetchError::Fatal {
            message: e.to_string(),
        }
    } else if e.is_transient() {
        FetchError::Transient {
            retry_after: e.retry_after(),
            message: e.to_string(),
        }
    } else {
        FetchError::Permanent {
            message: e.to_string(),
        }
    }
}

impl Source for SimsClient {
    async fn sites(&self) -> Result<Vec<Site>, FetchError> {
        SimsClient::sites(self).await.map_err(classify)
    }

    async fn clients(&self, org: &OrgId) -> Result<Vec<Credential>, FetchError> {
        match SimsClient::clients(self, org).await {
            Ok(c) => Ok(c),
            Err(SimsError::Forbidden | SimsError::NotFound) => Err(FetchError::NoCredentials),
            Err(e) => Err(classify(e)),
        }
    }
}

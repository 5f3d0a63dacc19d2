mod runbook;
mod vault_audit;
mod vault_trust;

mod runbook;
mod vault_audit;

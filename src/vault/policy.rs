//! The least-privilege policies of `simsid vault policy` (HCL), one per role of a team
//! (docs/reference/vault.md "Policies for a team"), and the capabilities a harvest needs on the prefix
//! (checked by `simsid vault check`).

use super::settings::SecretRef;

/// Capabilities a harvest needs on `{mount}/data/{prefix}/…`.
pub const HARVEST_DATA_CAPS: &[&str] = &["create", "update", "read", "delete"];
/// Capabilities a harvest needs on `{mount}/metadata/{prefix}/…` (custom metadata is
/// written with `update`).
pub const HARVEST_METADATA_CAPS: &[&str] = &["create", "update", "read", "list", "delete"];

/// The roles of a team (docs/reference/vault.md "Policies for a team").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The harvest host.
    Harvester,
    /// Staff who browse the team's view.
    Viewer,
    /// A viewer who may also read credentials.
    Operator,
    /// The integrator's product.
    Service,
}

impl Role {
    /// Every role, in the order `vault policy` prints them.
    pub const ALL: [Role; 4] = [Role::Harvester, Role::Viewer, Role::Operator, Role::Service];

    /// The role's name (`--role`, the heading, a policy name in the docs).
    pub fn name(self) -> &'static str {
        match self {
            Role::Harvester => "harvester",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Service => "service",
        }
    }
}

/// One `path` stanza: a path, its capabilities and, optionally, a comment inside the
/// stanza saying why (never a `#` line of its own between stanzas: a policy has exactly
/// one heading line, so that splitting the output on headings keeps every stanza).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub path: String,
    pub capabilities: Vec<&'static str>,
    pub comment: Option<String>,
}

impl Rule {
    /// A stanza granting (or, with `["deny"]`, denying) `capabilities` on `path`.
    pub fn new(path: impl Into<String>, capabilities: &[&'static str]) -> Rule {
        Rule {
            path: path.into(),
            capabilities: capabilities.to_vec(),
            comment: None,
        }
    }

    /// The same stanza with a comment inside it.
    pub fn because(mut self, comment: impl Into<String>) -> Rule {
        self.comment = Some(comment.into());
        self
    }

    fn render(&self, out: &mut String) {
        out.push_str(&format!("path \"{}\" {{\n", self.path));
        if let Some(c) = &self.comment {
            out.push_str(&format!("  # {c}\n"));
        }
        let caps = self
            .capabilities
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!("  capabilities = [{caps}]\n}}\n"));
    }
}

/// One role's policy: one heading line naming the role, then its stanzas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub role: Role,
    /// What the role is for (the heading's text after `# simsid ROLE `).
    pub about: String,
    pub rules: Vec<Rule>,
}

impl Policy {
    /// The policy as HCL: `# simsid ROLE (…)`, then the stanzas separated by blank lines.
    pub fn render(&self) -> String {
        let mut out = format!("# simsid {} {}\n", self.role.name(), self.about);
        for (i, rule) in self.rules.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            rule.render(&mut out);
        }
        out
    }
}

/// What a policy is built for: the profile's mount and prefix, and the integrator's own
/// secret when the profile keeps it in the vault (`client_secret_vault`).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub mount: &'a str,
    pub prefix: &'a str,
    pub integrator: Option<&'a SecretRef>,
}

/// `role`'s policy for `scope`.
pub fn policy(role: Role, scope: &Scope<'_>) -> Policy {
    let (mount, prefix) = (scope.mount, scope.prefix);
    let data = format!("{mount}/data/{prefix}/*");
    let metadata = format!("{mount}/metadata/{prefix}/*");
    let view_data = format!("{mount}/data/{prefix}/_simsid/*");
    let view_metadata = format!("{mount}/metadata/{prefix}/_simsid/*");
    let (about, mut rules) = match role {
        Role::Harvester => {
            let mut rules = vec![
                Rule::new(data, HARVEST_DATA_CAPS),
                Rule::new(metadata, HARVEST_METADATA_CAPS),
            ];
            if let Some(r) = scope.integrator {
                rules.push(
                    Rule::new(format!("{}/data/{}", r.mount, r.path), &["read"])
                        .because("the integrator's own secret (client_secret_vault)"),
                );
            }
            (
                format!(
                    "(the harvest host): writes, reads back and removes the credentials under \
                     {mount}/{prefix}, and publishes the team's view under {mount}/{prefix}/_simsid"
                ),
                rules,
            )
        }
        Role::Viewer => (
            format!(
                "(staff who browse): reads the team's view under {mount}/{prefix}/_simsid, \
                 never a secret"
            ),
            vec![
                Rule::new(view_data, &["read"]),
                Rule::new(view_metadata, &["read", "list"]),
            ],
        ),
        Role::Operator => (
            format!(
                "(partner support, on-call): the viewer's view, and reads the credentials \
                 under {mount}/{prefix} (reveal, copy, verify)"
            ),
            vec![
                Rule::new(data, &["read"]),
                Rule::new(metadata, &["read", "list"]),
            ],
        ),
        // Its glob also covers the team's view, which holds no secret; no list, no write.
        Role::Service => (
            format!("(the integrator's product): reads the credentials under {mount}/{prefix}"),
            vec![Rule::new(data, &["read"])],
        ),
    };
    rules.extend(deny_unseen(mount));
    Policy { role, about, rules }
}

/// The stanzas every role's policy ends with: what the exposure report could not see,
/// denied (a deny wins over any other policy the identity holds): turning an audit device
/// off, reading raw storage, moving the mount so that its reads are under another path. A
/// policy cannot forbid response wrapping; the report sees a wrapped read by its
/// `wrap_info`.
pub fn deny_unseen(mount: &str) -> Vec<Rule> {
    let paths = [
        "sys/audit".to_string(),
        "sys/audit/*".to_string(),
        "sys/raw".to_string(),
        "sys/raw/*".to_string(),
        "sys/remount".to_string(),
        format!("sys/mounts/{mount}"),
        format!("sys/mounts/{mount}/*"),
    ];
    paths
        .into_iter()
        .enumerate()
        .map(|(i, path)| {
            let rule = Rule::new(path, &["deny"]);
            if i == 0 {
                rule.because(
                    "denied whatever else this identity holds: what the exposure report could \
                     not see (audit devices, raw storage, moving the mount)",
                )
            } else {
                rule
            }
        })
        .collect()
}

/// The harvester policy: writes and removes credentials under the prefix, and the team's
/// view under `{prefix}/_simsid/` (the same globs cover it).
pub fn harvester(mount: &str, prefix: &str, integrator: Option<&SecretRef>) -> String {
    let scope = Scope {
        mount,
        prefix,
        integrator,
    };
    policy(Role::Harvester, &scope).render()
}

/// The viewer policy: browsing the team's published view, without any secret.
pub fn viewer(mount: &str, prefix: &str) -> String {
    role_text(Role::Viewer, mount, prefix)
}

/// The operator policy: a viewer who may also read the credentials (reveal, copy, verify).
pub fn operator(mount: &str, prefix: &str) -> String {
    role_text(Role::Operator, mount, prefix)
}

/// The service policy: the integrator's product, which reads the credentials.
pub fn service(mount: &str, prefix: &str) -> String {
    role_text(Role::Service, mount, prefix)
}

fn role_text(role: Role, mount: &str, prefix: &str) -> String {
    let scope = Scope {
        mount,
        prefix,
        integrator: None,
    };
    policy(role, &scope).render()
}

/// The policies of `roles` (every role: harvester first), separated by blank lines.
pub fn render_roles(roles: &[Role], scope: &Scope<'_>) -> String {
    roles
        .iter()
        .map(|r| policy(*r, scope).render())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every role's policy, harvester first, separated by blank lines (the unit tests').
#[cfg(test)]
pub fn all(mount: &str, prefix: &str, integrator: Option<&SecretRef>) -> String {
    let scope = Scope {
        mount,
        prefix,
        integrator,
    };
    render_roles(&Role::ALL, &scope)
}

/// The capabilities of `needed` missing from `granted` (`root` grants all; `deny` none).
pub fn missing<'a>(needed: &[&'a str], granted: &[String]) -> Vec<&'a str> {
    if granted.iter().any(|g| g == "root") {
        return Vec::new();
    }
    if granted.iter().any(|g| g == "deny") {
        return needed.to_vec();
    }
    needed
        .iter()
        .copied()
        .filter(|n| !granted.iter().any(|g| g == n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_denies_what_the_exposure_report_cannot_see() {
        for p in [
            harvester("kv", "simsid/APP", None),
            viewer("kv", "simsid/APP"),
            operator("kv", "simsid/APP"),
            service("kv", "simsid/APP"),
        ] {
            for path in ["sys/audit/*", "sys/raw/*", "sys/remount", "sys/mounts/kv/*"] {
                let stanza = format!("path \"{path}\" {{\n");
                let at = p.find(&stanza).unwrap_or_else(|| panic!("{path}: {p}"));
                assert!(
                    p[at..]
                        .lines()
                        .take(3)
                        .any(|l| l == "  capabilities = [\"deny\"]"),
                    "{path}: {p}"
                );
            }
            assert_eq!(p.matches("# simsid ").count(), 1, "one heading: {p}");
        }
    }

    #[test]
    fn policies_name_the_mount_and_prefix() {
        let h = harvester("kv", "simsid/APP", None);
        assert!(h.contains("path \"kv/data/simsid/APP/*\""), "{h}");
        assert!(
            h.contains("\"create\", \"update\", \"read\", \"delete\""),
            "{h}"
        );
        assert!(h.contains("path \"kv/metadata/simsid/APP/*\""), "{h}");
        let r = operator("kv", "simsid/APP");
        assert!(r.contains("capabilities = [\"read\"]"), "{r}");
        assert!(r.contains("[\"read\", \"list\"]"), "{r}");
        assert!(!r.contains("delete"), "{r}");
        let v = viewer("kv", "simsid/APP");
        assert!(v.contains("path \"kv/data/simsid/APP/_simsid/*\""), "{v}");
        assert!(!v.contains("path \"kv/data/simsid/APP/*\""), "{v}");
        let s = service("kv", "simsid/APP");
        assert!(s.contains("path \"kv/data/simsid/APP/*\""), "{s}");
        assert!(!s.contains("metadata") && !s.contains("list"), "{s}");
        let every = all("kv", "simsid/APP", None);
        for role in ["harvester", "viewer", "operator", "service"] {
            assert_eq!(
                every.matches(&format!("# simsid {role} (")).count(),
                1,
                "{every}"
            );
        }
        let with = harvester(
            "kv",
            "p",
            Some(&SecretRef::parse("kv/team/x#secret").unwrap()),
        );
        assert!(with.contains("path \"kv/data/team/x\""), "{with}");
    }

    #[test]
    fn each_policy_has_exactly_one_heading_line_and_every_stanza_under_it() {
        let secret = SecretRef::parse("kv/team/x#secret").unwrap();
        let every = all("kv", "simsid/APP", Some(&secret));
        let headings: Vec<&str> = every.lines().filter(|l| l.starts_with('#')).collect();
        assert_eq!(headings.len(), 4, "{every}");
        for (line, role) in headings.iter().zip(Role::ALL) {
            assert!(
                line.starts_with(&format!("# simsid {} (", role.name())),
                "{line}"
            );
        }
        // Split on the headings, as a reader would: the integrator's secret stays in the
        // harvester's part.
        let harvester_part = every.split("\n# simsid viewer").next().unwrap();
        assert!(
            harvester_part.contains("path \"kv/data/team/x\""),
            "{every}"
        );
        assert!(
            harvester_part.contains("  # the integrator's own secret"),
            "{every}"
        );
        // One role alone is the same block as in the whole.
        let scope = Scope {
            mount: "kv",
            prefix: "simsid/APP",
            integrator: Some(&secret),
        };
        assert_eq!(
            render_roles(&[Role::Harvester], &scope),
            harvester_part.trim_end().to_string() + "\n"
        );
        // Adding a stanza is pushing a rule.
        let mut p = policy(Role::Viewer, &scope);
        p.rules
            .push(Rule::new("kv/data/simsid/APP/x", &["deny"]).because("why"));
        let text = p.render();
        assert!(
            text.ends_with(
                "path \"kv/data/simsid/APP/x\" {\n  # why\n  capabilities = [\"deny\"]\n}\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn missing_capabilities() {
        let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(missing(HARVEST_DATA_CAPS, &g(&["root"])).is_empty());
        assert_eq!(missing(&["read", "list"], &g(&["read"])), ["list"]);
        assert_eq!(missing(&["read"], &g(&["deny"])), ["read"]);
    }
}

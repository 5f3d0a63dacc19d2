//! Deterministic dataset generation: for a seed, the same integrator credentials, sites,
//! clients and secrets every time. Pure: no I/O, no clock, one seeded RNG.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use secrecy::SecretString;

use super::model::{SimClient, SimSite};
use super::names::{client_description, school_name, Region};
use crate::ids::OrgId;

/// URL-safe characters used for generated secrets.
const SECRET_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Length of a generated secret.
pub(crate) const SECRET_LEN: usize = 40;

/// The technical integrator's own identity and credentials.
#[derive(Clone, Debug)]
pub(crate) struct Integrator {
    pub application_id: OrgId,
    pub client_id: String,
    pub organisation_id: OrgId,
    pub secret: SecretString,
}

/// How a site that has not authorised the application answers the Clients call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    EmptyList,
    Forbidden,
    NotFound,
}

/// A generated site with the wire details the public [`SimSite`] does not carry.
#[derive(Clone, Debug)]
pub(crate) struct GeneratedSite {
    pub site: SimSite,
    /// The `Id` field: usually `0`, sometimes null or another integer.
    pub id: Option<i64>,
    /// The `Authorised` field (`None` = null).
    pub authorised: Option<bool>,
    pub refusal: Refusal,
}

/// A seeded source of sites, clients and secrets; it keeps identifiers unique.
pub(crate) struct Generator {
    rng: StdRng,
    used_orgs: HashSet<OrgId>,
    used_codes: HashSet<String>,
    used_clients: HashSet<String>,
    test_sites: u32,
    apim_key: String,
}

impl Generator {
    /// A generator for `seed`; the first draws make the application's APIM key.
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let apim_key = format!("OCPAIM-SIMULATED-{:032X}", rng.random::<u128>());
        Generator {
            rng,
            used_orgs: HashSet::new(),
            used_codes: HashSet::new(),
            used_clients: HashSet::new(),
            test_sites: 0,
            apim_key,
        }
    }

    /// The application's API-management key (`OCPAIM-SIMULATED-…`).
    pub fn apim_key(&self) -> &str {
        &self.apim_key
    }

    /// The generator's RNG, for choices the caller makes (e.g. which site to mutate).
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// A fresh 40-character URL-safe secret.
    pub fn secret(&mut self) -> SecretString {
        let text: String = (0..SECRET_LEN)
            .map(|_| char::from(SECRET_ALPHABET[self.rng.random_range(0..SECRET_ALPHABET.len())]))
            .collect();
        SecretString::from(text)
    }

    /// A GUID not used before by this generator.
    pub fn org_id(&mut self) -> OrgId {
        let mut id = guid(self.rng.random());
        // A repeat among 2^122 random GUIDs does not happen; the bound keeps the loop finite.
        for _ in 0..64 {
            if self.used_orgs.insert(id.clone()) {
                break;
            }
            id = guid(self.rng.random());
        }
        id
    }

    /// The integrator's application id, client id, organisation id and secret.
    pub fn integrator(&mut self) -> Integrator {
        let application_id = self.org_id();
        let organisation_id = self.org_id();
        let client_id = format!("sas-oneroster-{:08x}", self.rng.random::<u32>());
        let secret = self.secret();
        Integrator {
            application_id,
            client_id,
            organisation_id,
            secret,
        }
    }

    /// A school API client with a unique id, a secret, a description and, on some, the
    /// APIM key.
    pub fn client(&mut self) -> SimClient {
        let make = |rng: &mut StdRng| {
            format!(
                "sas-simsprimary-{:012x}",
                rng.random::<u64>() & 0xffff_ffff_ffff
            )
        };
        let mut client_id = make(&mut self.rng);
        for _ in 0..64 {
            if self.used_clients.insert(client_id.clone()) {
                break;
            }
            client_id = make(&mut self.rng);
        }
        let secret = self.secret();
        let description = client_description(&mut self.rng);
        let ocpaimkey = self.rng.random_bool(0.3).then(|| self.apim_key.clone());
        SimClient {
            client_id,
            secret,
            description,
            ocpaimkey,
        }
    }

    /// The initial dataset of `count` sites: about one in ten not authorised, a few in
    /// Northern Ireland and one vendor test site once there are 20 or more.
    pub fn initial_sites(&mut self, count: usize) -> Vec<GeneratedSite> {
        let ni = if count >= 10 {
            (count * 3 / 100).max(1)
        } else {
            0
        };
        let tests = if count >= 20 { 1 + count / 1000 } else { 0 };
        let wales = count * 18 / 100;
        let mut regions = Vec::with_capacity(count);
        regions.extend(std::iter::repeat_n(Region::NorthernIreland, ni));
        regions.extend(std::iter::repeat_n(Region::VendorTest, tests));
        regions.extend(std::iter::repeat_n(Region::Wales, wales));
        let england = count.saturating_sub(regions.len());
        regions.extend(std::iter::repeat_n(Region::England, england));
        regions.truncate(count);
        regions.shuffle(&mut self.rng);

        let mut authorised = vec![true; count];
        for slot in authorised.iter_mut().take(count / 10) {
            *slot = false;
        }
        authorised.shuffle(&mut self.rng);

        regions
            .into_iter()
            .zip(authorised)
            .map(|(region, authorised)| self.site(region, authorised))
            .collect()
    }

    /// A new site anywhere, authorised, with one or two clients (used by `add_site`).
    pub fn added_site(&mut self) -> GeneratedSite {
        let region = match self.rng.random_range(0..100) {
            0..=74 => Region::England,
            75..=94 => Region::Wales,
            _ => Region::NorthernIreland,
        };
        let clients = self.rng.random_range(1..=2);
        self.site_with(region, true, clients)
    }

    /// One site in `region`. Authorised sites have zero to three clients; sites that have
    /// not authorised the application have none.
    pub fn site(&mut self, region: Region, authorised: bool) -> GeneratedSite {
        let clients = if authorised {
            match self.rng.random_range(0..100) {
                0..=7 => 0,
                8..=67 => 1,
                68..=91 => 2,
                _ => 3,
            }
        } else {
            0
        };
        self.site_with(region, authorised, clients)
    }

    fn site_with(&mut self, region: Region, authorised: bool, clients: usize) -> GeneratedSite {
        let org_id = self.org_id();
        if region == Region::VendorTest {
            self.test_sites += 1;
        }
        let name = school_name(&mut self.rng, region, self.test_sites);
        let (dfe_code, deni_number) = match region {
            Region::NorthernIreland => (
                None,
                Some(self.unique_code(|rng| {
                    format!(
                        "{}{:04}",
                        rng.random_range(101..=599),
                        rng.random_range(0..10_000)
                    )
                })),
            ),
            Region::Wales => (
                Some(self.unique_code(|rng| {
                    format!(
                        "{}{}",
                        rng.random_range(660..=681),
                        rng.random_range(1000..=7999)
                    )
                })),
                None,
            ),
            Region::England => (
                Some(self.unique_code(|rng| {
                    let mut la = rng.random_range(201..=938);
                    if (660..=681).contains(&la) {
                        la -= 100;
                    }
                    format!("{la}{}", rng.random_range(1000..=7999))
                })),
                None,
            ),
            Region::VendorTest => (Some(format!("CAP{:04}", self.test_sites)), None),
        };
        let clients = (0..clients).map(|_| self.client()).collect();
        let id = match self.rng.random_range(0..100) {
            0..=84 => Some(0),
            85..=94 => None,
            _ => Some(self.rng.random_range(1..100_000)),
        };
        let refusal = match self.rng.random_range(0..3) {
            0 => Refusal::EmptyList,
            1 => Refusal::Forbidden,
            _ => Refusal::NotFound,
        };
        GeneratedSite {
            site: SimSite {
                org_id,
                name,
                dfe_code,
                deni_number,
                authorised,
                clients,
            },
            id,
            authorised: Some(authorised),
            refusal,
        }
    }

    /// A code from `make` that no earlier site has (bounded retries; the last draw is
    /// kept if all collide, which only happens when the code space is exhausted).
    fn unique_code(&mut self, make: impl Fn(&mut StdRng) -> String) -> String {
        let mut code = make(&mut self.rng);
        for _ in 0..1000 {
            if self.used_codes.insert(code.clone()) {
                break;
            }
            code = make(&mut self.rng);
        }
        code
    }
}

/// The upper-case hyphenated GUID made of `bytes`.
fn guid(bytes: [u8; 16]) -> OrgId {
    OrgId::from_uuid(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn fingerprint(sites: &[GeneratedSite]) -> Vec<String> {
        sites
            .iter()
            .map(|g| {
                let s = &g.site;
                let clients: Vec<String> = s
                    .clients
                    .iter()
                    .map(|c| format!("{}={}", c.client_id, c.secret.expose_secret()))
                    .collect();
                format!(
                    "{}|{}|{:?}|{:?}|{}|{:?}|{:?}|{}",
                    s.org_id,
                    s.name,
                    s.dfe_code,
                    s.deni_number,
                    s.authorised,
                    g.id,
                    g.refusal,
                    clients.join(",")
                )
            })
            .collect()
    }

    #[test]
    fn same_seed_same_sites_other_seed_different() {
        let a = Generator::new(42).initial_sites(150);
        let b = Generator::new(42).initial_sites(150);
        let c = Generator::new(43).initial_sites(150);
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }

    #[test]
    fn dataset_has_the_documented_shape() {
        let sites = Generator::new(3).initial_sites(200);
        assert_eq!(sites.len(), 200);
        let unauthorised = sites.iter().filter(|g| !g.site.authorised).count();
        assert_eq!(unauthorised, 20);
        assert!(sites
            .iter()
            .filter(|g| !g.site.authorised)
            .all(|g| g.site.clients.is_empty()));
        let ni: Vec<_> = sites
            .iter()
            .filter(|g| g.site.deni_number.is_some())
            .collect();
        assert_eq!(ni.len(), 6);
        assert!(ni.iter().all(|g| g.site.dfe_code.is_none()));
        let seven_digits = sites
            .iter()
            .filter_map(|g| g.site.dfe_code.as_deref())
            .filter(|c| c.len() == 7 && c.chars().all(|ch| ch.is_ascii_digit()))
            .count();
        assert_eq!(seven_digits, 200 - 6 - 1);
        assert!(sites
            .iter()
            .any(|g| g.site.dfe_code.as_deref() == Some("CAP0001")));
        assert!(sites.iter().any(|g| g.site.name.starts_with("Ysgol")));
        assert!(sites.iter().any(|g| g.site.name.contains('\'')));
        let mut client_ids: Vec<&str> = sites
            .iter()
            .flat_map(|g| g.site.clients.iter().map(|c| c.client_id.as_str()))
            .collect();
        let total = client_ids.len();
        client_ids.sort_unstable();
        client_ids.dedup();
        assert_eq!(client_ids.len(), total, "client ids are unique");
        assert!(sites.iter().all(|g| g.site.clients.len() <= 3));
        let with_clients = |n: usize| sites.iter().filter(|g| g.site.clients.len() == n).count();
        assert!(with_clients(0) > 20 && with_clients(1) > 0 && with_clients(3) > 0);
    }

    #[test]
    fn secrets_are_url_safe_and_distinct() {
        let mut g = Generator::new(9);
        let a = g.secret();
        let b = g.secret();
        assert_eq!(a.expose_secret().len(), SECRET_LEN);
        assert!(a
            .expose_secret()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn some_clients_carry_the_apim_key() {
        let mut g = Generator::new(5);
        let clients: Vec<SimClient> = (0..50).map(|_| g.client()).collect();
        let key = g.apim_key().to_string();
        assert!(key.starts_with("OCPAIM-SIMULATED-"));
        let with_key = clients
            .iter()
            .filter(|c| c.ocpaimkey.as_deref() == Some(key.as_str()))
            .count();
        assert!(with_key > 0 && with_key < 50);
        assert!(clients
            .iter()
            .all(|c| c.client_id.starts_with("sas-simsprimary-")));
    }

    #[test]
    fn added_sites_have_one_or_two_clients() {
        let mut g = Generator::new(11);
        for _ in 0..20 {
            let site = g.added_site();
            assert!(site.site.authorised);
            assert!((1..=2).contains(&site.site.clients.len()));
        }
    }
}

//! Which addresses connectors may reach. A tenant admin chooses where a
//! connector connects, so without a policy a tenant could point one at the
//! host's own services (its database, its cache on loopback) or a cloud
//! metadata address and probe them. Every connection is checked after name
//! resolution, against the addresses it actually resolves to.
//!
//! - `default`: any address but loopback, unspecified, link-local
//!   (169.254.0.0/16, fe80::/10: cloud metadata), multicast and broadcast;
//! - `any`: every address (a test host whose field is on loopback);
//! - a comma-separated list of CIDR blocks (`10.20.0.0/16,192.168.7.0/24`):
//!   those only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The addresses connectors may reach.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkPolicy {
    /// `None`: the default; else the allowed blocks.
    allow: Option<Vec<Block>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    network: IpAddr,
    prefix: u8,
}

impl NetworkPolicy {
    /// Every address.
    pub fn any() -> Self {
        Self::parse("any").expect("valid")
    }

    /// `default`, `any` or a comma-separated list of CIDR blocks.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() || text == "default" {
            return Ok(Self::default());
        }
        if text == "any" {
            let all = vec![
                Block { network: IpAddr::V4(Ipv4Addr::UNSPECIFIED), prefix: 0 },
                Block { network: IpAddr::V6(Ipv6Addr::UNSPECIFIED), prefix: 0 },
            ];
            return Ok(Self { allow: Some(all) });
        }
        let blocks = text.split(',').map(|item| block(item.trim())).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { allow: Some(blocks) })
    }

    /// Whether a connection to `ip` is allowed.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match &self.allow {
            None => !special(ip),
            Some(blocks) => blocks.iter().any(|b| contains(*b, ip)),
        }
    }

    /// Resolves `host:port` and returns its first allowed address; a name
    /// that resolves only to addresses the policy forbids is refused with
    /// a reason naming them.
    pub async fn resolve(&self, address: &str) -> Result<SocketAddr, Unreachable> {
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host(address)
            .await
            .map_err(|e| Unreachable::Unresolved(format!("cannot resolve `{address}`: {e}")))?
            .collect();
        if let Some(allowed) = resolved.iter().find(|a| self.permits(a.ip())) {
            return Ok(*allowed);
        }
        let ips: Vec<String> = resolved.iter().map(|a| a.ip().to_string()).collect();
        Err(Unreachable::Forbidden(format!(
            "`{address}` resolves to {}, which connectors may not reach on this host (NEXUS_CONNECTOR_NETWORKS)",
            if ips.is_empty() { "no address".into() } else { ips.join(", ") }
        )))
    }
}

/// Why an address cannot be connected to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreachable {
    /// The name does not resolve.
    #[error("{0}")]
    Unresolved(String),
    /// The policy forbids every address it resolves to.
    #[error("{0}")]
    Forbidden(String),
}

fn block(text: &str) -> Result<Block, String> {
    let bad = || format!("`{text}`: expected a CIDR block such as 10.0.0.0/8 or fd00::/8, `default` or `any`");
    let (address, prefix) = text.split_once('/').ok_or_else(bad)?;
    let network: IpAddr = address.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    let max = if network.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(bad());
    }
    Ok(Block { network: canonical(network), prefix })
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_unspecified() || v4.is_link_local() || v4.is_multicast() || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

fn contains(block: Block, ip: IpAddr) -> bool {
    match (block.network, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) => {
            let mask = if block.prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(block.prefix)) };
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) => {
            let mask = if block.prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(block.prefix)) };
            u128::from(net) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn the_default_keeps_connectors_off_the_host_and_metadata_addresses() {
        let policy = NetworkPolicy::default();
        for denied in
            ["127.0.0.1", "127.3.4.5", "0.0.0.0", "169.254.169.254", "::1", "fe80::1", "::ffff:127.0.0.1", "224.0.0.1"]
        {
            assert!(!policy.permits(ip(denied)), "{denied}");
        }
        for allowed in ["10.1.2.3", "192.168.7.20", "8.8.8.8", "fd00::5"] {
            assert!(policy.permits(ip(allowed)), "{allowed}");
        }
    }

    #[test]
    fn a_list_allows_its_blocks_only_and_any_allows_all() {
        let policy = NetworkPolicy::parse("10.20.0.0/16, 192.168.7.0/24,fd00::/8").expect("policy");
        assert!(policy.permits(ip("10.20.255.1")));
        assert!(!policy.permits(ip("10.21.0.1")));
        assert!(policy.permits(ip("192.168.7.99")));
        assert!(policy.permits(ip("fd12::1")));
        assert!(!policy.permits(ip("127.0.0.1")));
        assert!(NetworkPolicy::any().permits(ip("127.0.0.1")));
        assert!(NetworkPolicy::any().permits(ip("::1")));
        for bad in ["10.0.0.0", "10.0.0.0/33", "host/8", "fd00::/129"] {
            assert!(NetworkPolicy::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn names_are_checked_by_what_they_resolve_to() {
        let refused = NetworkPolicy::default().resolve("localhost:502").await;
        assert!(matches!(&refused, Err(Unreachable::Forbidden(e)) if e.contains("may not reach")), "{refused:?}");
        let allowed = NetworkPolicy::any().resolve("127.0.0.1:502").await.expect("allowed");
        assert_eq!(allowed.port(), 502);
    }
}
